"""What the daily reminder command sent, so that each reminder goes once."""

from django.db import models


class Reminder(models.Model):
    """One reminder sent by ``send_deadline_reminders``. ``key`` names what it was about, its
    stage and the date it was about, e.g. ``review:12:due_soon:2027-02-28T10:00:00+00:00``: a
    deadline that moves (extended, restarted) gets its reminders again, a deadline that stays
    gets each stage once."""

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
