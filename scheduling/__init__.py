"""Time: availability, slots, booking, recurrence, notifications and background jobs.

Booking arrives with the scheduling issue; today a consultation's time window is set when it is created
(see :mod:`server.consultations`).
"""
