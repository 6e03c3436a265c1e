"""Bearer JWTs (HS256): who is calling, for which organisation and locations, in which role."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Iterable

import jwt

from shared.problems import Problem

AUDIENCE = "rapport"
ROLES = ("org_admin", "manager", "front_desk", "therapist", "client")
STAFF = ("org_admin", "manager", "front_desk", "therapist")
ALL_LOCATIONS = "*"


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    org: str
    locations: frozenset[str]

    @property
    def all_locations(self) -> bool:
        return self.role == "org_admin" and ALL_LOCATIONS in self.locations

    def may_access(self, location_id: str) -> bool:
        return self.all_locations or location_id in self.locations

    def is_(self, *roles: str) -> bool:
        return self.role in roles


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def decode(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("The token has expired.") from None
    except jwt.PyJWTError as error:
        raise unauthorized(f"The token is not valid: {error}.") from None
    role, org, locations = claims.get("role"), claims.get("org"), claims.get("locations")
    if role not in ROLES:
        raise unauthorized("The token's role is not one Rapport knows.")
    if not isinstance(org, str) or not org:
        raise unauthorized("The token names no organisation.")
    if not isinstance(locations, list) or not all(isinstance(x, str) and x for x in locations):
        raise unauthorized("The token's locations must be a list of location ids.")
    if ALL_LOCATIONS in locations and role != "org_admin":
        raise unauthorized("Only org_admin tokens may grant every location.")
    return Principal(sub=str(claims["sub"]), role=role, org=org, locations=frozenset(locations))


def mint(
    secret: str,
    *,
    role: str,
    org: str,
    locations: Iterable[str],
    sub: str | None = None,
    ttl_seconds: int = 8 * 3600,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims = {
        "sub": sub or str(uuid.uuid4()),
        "role": role,
        "org": org,
        "locations": list(locations),
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
