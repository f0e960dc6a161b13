from weather.forecast import average, headline
from weather.readings import Reading


def test_average_and_headline():
    readings = [Reading("Oslo", 1.0), Reading("Oslo", 2.0)]
    assert average(readings) == 1.5
    assert headline("Oslo", readings) == "Oslo: 1.5 °C over 2 readings"


def test_fahrenheit():
    assert Reading("Lima", 20.0).fahrenheit == 68.0
