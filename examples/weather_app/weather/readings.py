from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    city: str
    celsius: float

    @property
    def fahrenheit(self) -> float:
        return self.celsius * 9 / 5 + 32
