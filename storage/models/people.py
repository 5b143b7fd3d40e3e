"""People of the organisation, with their ids on each platform and their reporting line."""

from __future__ import annotations

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    employee_no: str = Field(unique=True, index=True)
    name: str = Field(index=True)
    org_path: str = Field(index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    dingtalk_user_id: str | None = Field(default=None, unique=True, index=True)
    dingtalk_union_id: str | None = Field(default=None, index=True)
    wecom_userid: str | None = Field(default=None, unique=True, index=True)
    lead_id: int | None = Field(default=None, foreign_key="person.id")
    active: bool = True
    # Directory sync: the blind index of the mobile (to match one employee across
    # platforms) and the roles the last sync granted by rule (others were set by hand).
    mobile_hash: str | None = Field(default=None, index=True)
    synced_roles: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
