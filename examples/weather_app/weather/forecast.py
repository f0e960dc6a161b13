from statistics import mean

from weather.readings import Reading
from weather.textutil import plural, truncate


def average(readings: list[Reading]) -> float:
    return round(mean(r.celsius for r in readings), 1)


def headline(city: str, readings: list[Reading]) -> str:
    return truncate(f"{city}: {average(readings)} °C over {plural(len(readings), 'reading')}", 40)
