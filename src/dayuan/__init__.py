"""Dayuan 智慧大院: the digital platform of a government affairs service centre."""

__version__ = "0.1.0"
