"""Group supervision rooms: the room (one-off, or the room of a recurring team meeting), who is invited, and the
attendance register. No media, no chat and no case details are ever stored: the agenda holds case codes only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.core import Base, UTCDateTime, new_id, utcnow


class SupervisionRoom(Base):
    """A supervision room. ``series_id`` set: the room of that recurring meeting (its invitees are the series'),
    open at each occurrence; otherwise a one-off room at ``starts_at`` with its own invitees."""

    __tablename__ = "supervision_room"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    agenda: Mapped[str] = mapped_column(Text, default="")  # topics and case codes, never names
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    minutes: Mapped[int] = mapped_column(Integer, default=90)
    series_id: Mapped[str | None] = mapped_column(
        ForeignKey("meeting_series.id", ondelete="CASCADE"), default=None, unique=True
    )
    created_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RoomInvitee(Base):
    __tablename__ = "room_invitee"

    room_id: Mapped[str] = mapped_column(ForeignKey("supervision_room.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)


class Attendance(Base):
    """One stay of one person in a room: when they entered the call and when they left (None: still there, or
    the server stopped before it could write it)."""

    __tablename__ = "attendance"
    __table_args__ = (Index("ix_attendance_room_joined", "room_id", "joined_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("supervision_room.id", ondelete="CASCADE"))
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
