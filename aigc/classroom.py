"""Class rooms: a teacher opens a room, students follow the teacher's view and send pictures to
the class gallery. No streamlit here: the page, the CLI and the tests call these functions,
and everything lives in the store (:mod:`aigc.store`), so every server sharing one
``$AIGC_DB_URL`` sees the same rooms and a restart loses nothing.

Who may do what. The room code is what students have (typed from the projector, or in the
student link); the teacher token is what the teacher has (in the teacher link, shown once when
the room opens). The store keeps only the token's sha256, so neither a copy of the database
nor a student link can act as teacher. Names, titles and links are stored exactly as given
(HTML included): a page shows them as text.

Limits: a follower's sends are rate-limited, size-capped and must be PNGs; rooms, followers
per room and gallery entries per room are capped, so a script cannot fill the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from aigc import store
from aigc.data import MAX_CLASS_NAME_CHARS, is_class_name
from aigc.errors import InputError
from aigc.image_folder import MAX_FILES
from aigc.limits import Failures

log = logging.getLogger(__name__)

# 31 characters without look-alikes (no I, L, O, 0, 1): 8 of them are ~40 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
DEFAULT_TTL_S = 4 * 3600.0  # a school morning
MAX_TTL_S = 7 * 24 * 3600.0
# A room's gallery and follower list outlive it this long (the teacher may look back at the
# lesson), then go: a school server opening rooms every day must not grow without end.
DEFAULT_KEEP_DAYS = 30.0
MAX_TITLE_CHARS = 100
MAX_NAME_CHARS = 40
MAX_LINK_CHARS = 4000
MAX_TOKEN_CHARS = 200
MAX_PAGE_CHARS = 200
MAX_VIEW_CHARS = 8000  # the view's query as JSON: a page link's parameters, with room to spare
MAX_PNG_BYTES = 2 * 1024 * 1024
MAX_RUN_RECORD_BYTES = 1024 * 1024  # a live run's newest grid and curves: ~20 kB
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEND_INTERVAL_S = 5.0
MAX_SENDS_PER_FOLLOWER = 20
PULSE_CACHE_S = 0.2  # a room's view version, read once for all its followers polling a server
PRESENCE_S = 5.0  # how often a polling follower's "still here" is written
MAX_GALLERY_PER_ROOM = 500  # 500 x 2 MB at the very worst; a 28x28 picture's PNG is ~1 kB
MAX_FOLLOWERS_PER_ROOM = 200
MAX_OPEN_ROOMS = 200
MAX_GALLERY_PAGE = 500
# Per-process brute-force limits (see aigc.limits.Failures for why per process).
UNKNOWN_CODES_PER_MINUTE = 30
TEACHER_FAILURES_PER_MINUTE = 10
_FOLLOWER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class RoomError(InputError):
    """A room request that cannot be done; `code` names the page's explanation
    (``errors.<code>``): room_unknown, room_closed, not_teacher, rate_limited, too_large,
    not_png, name_too_long, store_unavailable, ..."""

    default_code = "room_error"


@dataclass(frozen=True)
class Room:
    code: str
    title: str
    created: datetime
    expires: datetime
    closed: bool  # closed by the teacher, or expired
    locked: bool  # the teacher asks followers to stay on the shared view (the page enforces it)


@dataclass(frozen=True)
class Opened:
    room: Room
    teacher_token: str  # the secret: shown once, stored only as its sha256


@dataclass(frozen=True)
class View:
    version: int  # goes up by one each time the teacher's page, query or run changes
    page: str
    query: dict[str, str]
    run_id: str | None
    updated: datetime


@dataclass(frozen=True)
class Follower:
    follower_id: str
    name: str
    following: bool
    last_seen: datetime


@dataclass(frozen=True)
class Sent:
    id: int
    room: str
    name: str
    png: bytes
    link: str
    time: datetime


# Guessing room codes. Any lookup by code (a room, its view, a heartbeat, a send) answers
# "unknown" or not, so every one of them counts a miss here, process-wide: a guesser uses
# fresh codes, so a per-code count would never fill. Over the limit, *every* lookup is refused
# for the rest of the minute, known codes too; refusing only unknown ones would tell a guesser
# which codes exist at full speed. At 30 misses a minute, finding one of 10 open rooms among
# 31**8 codes takes ~5,000 years on average. The price: someone flooding wrong codes stops the
# lesson for up to a minute (the page says so), which a cheeky student can do anyway.
_unknown_codes = Failures(UNKNOWN_CODES_PER_MINUTE)
# Forging teacher tokens. A token has 192 random bits, so no rate of guessing finds one; the
# limit makes a script trying tokens visible (it is answered rate_limited and logged). The
# right token is still checked and accepted: stopping all checks of a code would let any
# student, who knows the code, lock the teacher out.
_teacher_failures = Failures(TEACHER_FAILURES_PER_MINUTE)


def reset_limits() -> None:
    """Forget the brute-force counts and the pulse cache (tests; a process starts with none)."""
    _unknown_codes.clear()
    _teacher_failures.clear()
    _pulses.clear()


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normal_code(code: object) -> str | None:
    """A code as stored (upper case, without the spaces or dashes a person may type), or None
    if it cannot be one."""
    if not isinstance(code, str):
        return None
    code = code.strip().upper().replace("-", "").replace(" ", "")
    ok = len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)
    return code if ok else None


@contextmanager
def _transaction(write: bool = True) -> Iterator[Connection]:
    try:
        with store.transaction(write=write) as con:
            yield con
    except store.StoreUnavailable as e:
        raise RoomError(str(e), "store_unavailable") from e


def _as_room(row: Row) -> Room:
    return Room(
        code=row.code,
        title=row.title,
        created=row.created,
        expires=row.expires,
        closed=bool(row.closed) or row.expires <= _now(),
        locked=bool(row.locked),
    )


def _select_room(code: str, lock: bool) -> sa.Select:
    query = sa.select(store.rooms).where(store.rooms.c.code == code)
    return query.with_for_update() if lock else query  # PostgreSQL: one writer per room


def _find(con: Connection, code: object, *, lock: bool = False) -> Row:
    """The room with `code`, open or not, counting misses against guessing."""
    if _unknown_codes.over("*"):
        raise RoomError("too many unknown room codes were tried; wait a minute", "rate_limited")
    normal = normal_code(code)
    row = con.execute(_select_room(normal, lock)).one_or_none() if normal else None
    if row is None:
        # A malformed code tells a guesser nothing and cost no query: it is not counted.
        if normal is not None and _unknown_codes.add("*") == _unknown_codes.limit:
            log.warning("%d unknown room codes in a minute: refusing lookups", _unknown_codes.limit)
        raise RoomError(f"no class room has the code {str(code)[:20]!r}", "room_unknown")
    return row


def _find_open(con: Connection, code: object, *, lock: bool = False) -> Row:
    row = _find(con, code, lock=lock)
    if _as_room(row).closed:
        raise RoomError(f"class room {row.code} is closed", "room_closed")
    return row


def _token_matches(token: object, row: Row | None) -> bool:
    if row is None or not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(_hash(token), row.teacher_sha256)


def _as_teacher(con: Connection, code: object, token: object, *, lock: bool = False) -> Row:
    """The room, if `token` is its teacher's; a wrong code and a wrong token read alike."""
    normal = normal_code(code)
    row = con.execute(_select_room(normal, lock)).one_or_none() if normal else None
    if _token_matches(token, row):
        return row
    failures = _teacher_failures.add(normal or "?")
    if failures > _teacher_failures.limit:
        if failures == _teacher_failures.limit + 1:
            log.warning("room %s: %d wrong teacher tokens in a minute", normal, failures)
        raise RoomError("too many wrong teacher links for this room", "rate_limited")
    raise RoomError("not the teacher token of this room", "not_teacher")


def open_room(title: str = "", ttl_s: float | None = None) -> Opened:
    """Open a room; its teacher token is in the result and nowhere else.

    Args:
        title: shown to the followers, up to MAX_TITLE_CHARS, stored as given.
        ttl_s: seconds until the room closes by itself; default ``$AIGC_ROOM_TTL_S``, else 4 h.
    """
    if not isinstance(title, str) or len(title) > MAX_TITLE_CHARS:
        raise RoomError(f"a title has at most {MAX_TITLE_CHARS} characters", "title_too_long")
    ttl = _ttl(ttl_s)
    token = secrets.token_hex(
        24
    )  # hex: never a leading '-' that a command line takes for an option
    for _ in range(5):  # a code already taken (one chance in ~10**11 per open room): draw again
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        created = _now()
        row = {
            "code": code,
            "title": title,
            "teacher_sha256": _hash(token),
            "created": created,
            "expires": created + timedelta(seconds=ttl),
        }
        try:
            with _transaction() as con:
                _purge(con, created, keep_days())
                r = store.rooms.c
                still_open = sa.and_(sa.not_(r.closed), r.expires > created)
                n = con.execute(sa.select(sa.func.count()).where(still_open)).scalar_one()
                if n >= MAX_OPEN_ROOMS:
                    raise RoomError(f"{n} rooms are open already", "rooms_full", n=n)
                con.execute(sa.insert(store.rooms).values(row))
        except sa.exc.IntegrityError:
            continue
        room = Room(code, title, created, row["expires"], closed=False, locked=False)
        return Opened(room, token)
    raise RuntimeError("no free room code after 5 draws")


def keep_days() -> float:
    """Days a room's data is kept after it expires: $AIGC_ROOM_KEEP_DAYS, else 30."""
    text = os.environ.get("AIGC_ROOM_KEEP_DAYS", "").strip()
    try:
        days = float(text) if text else DEFAULT_KEEP_DAYS
    except ValueError:
        days = math.nan
    if not days >= 0:
        raise ValueError(f"AIGC_ROOM_KEEP_DAYS={text!r} is not a number of days >= 0")
    return days


def purge(days: float | None = None) -> int:
    """Delete rooms that expired more than `days` ago (default :func:`keep_days`), with their
    gallery, followers and drawings; return how many. Ratings keep their room's code. Opening a room
    purges too, so a server needs no cron job for it."""
    with _transaction() as con:
        return _purge(con, _now(), keep_days() if days is None else days)


def _purge(con: Connection, now: datetime, days: float) -> int:
    cutoff = now - timedelta(days=days)
    old = sa.select(store.rooms.c.code).where(store.rooms.c.expires < cutoff)
    for table in (store.gallery, store.followers, store.room_runs, store.room_drawings):
        con.execute(sa.delete(table).where(table.c.room.in_(old)))
    return con.execute(sa.delete(store.rooms).where(store.rooms.c.expires < cutoff)).rowcount


def _ttl(ttl_s: float | None) -> float:
    if ttl_s is None:
        ttl_s = os.environ.get("AIGC_ROOM_TTL_S") or DEFAULT_TTL_S
    try:
        ttl = float(ttl_s)
    except ValueError:
        ttl = math.nan
    if not 0 < ttl <= MAX_TTL_S:
        raise RoomError(
            f"a room stays open between 0 and {MAX_TTL_S / 3600:.0f} hours, not {ttl_s!r} s",
            "room_ttl",
            max_hours=MAX_TTL_S / 3600,
        )
    return ttl


def close_room(code: str, teacher_token: str) -> None:
    """Close the room for good (closing a closed room does nothing)."""
    with _transaction() as con:
        row = _as_teacher(con, code, teacher_token, lock=True)
        con.execute(
            sa.update(store.rooms).where(store.rooms.c.code == row.code).values(closed=True)
        )


def list_rooms(include_closed: bool = False) -> list[Room]:
    """Rooms, newest first. For the server's operator (the CLI): it shows every code, so a page
    must not show it to its visitors."""
    r = store.rooms.c
    query = sa.select(store.rooms).order_by(r.created.desc())
    if not include_closed:
        query = query.where(sa.not_(r.closed), r.expires > _now())
    with _transaction(write=False) as con:
        return [_as_room(row) for row in con.execute(query)]


def get_room(code: str) -> Room:
    """The open room with `code` (spaces, dashes and case as a person types them are fine).

    Raises:
        RoomError: room_unknown; room_closed (closed or expired); rate_limited (too many
            unknown codes tried in this process in the last minute); store_unavailable.
    """
    with _transaction(write=False) as con:
        return _as_room(_find_open(con, code))


def is_teacher(code: str, token: str) -> bool:
    """Whether `token` is the teacher token of room `code` (open or closed): compared as
    sha256 digests in constant time; False for anything malformed or rate-limited.

    Raises:
        RoomError: store_unavailable only.
    """
    try:
        with _transaction(write=False) as con:
            _as_teacher(con, code, token)
    except RoomError as e:
        if e.code == "store_unavailable":
            raise
        return False
    return True


def teacher_link(base_url: str, code: str, token: str) -> str:
    """The link that opens the room as its teacher: keep it to yourself."""
    return f"{student_link(base_url, code)}&teacher={urllib.parse.quote(token, safe='')}"


def student_link(base_url: str, code: str) -> str:
    """The link students open to follow the room; it never holds the teacher token."""
    return f"{base_url.rstrip('/')}/?room={urllib.parse.quote(code, safe='')}"


def publish_view(
    code: str, teacher_token: str, page: str, query: dict[str, str], run_id: str | None = None
) -> int:
    """Make (page, query, run_id) the view followers follow; return the view's version, which
    goes up only when one of the three changed, so a page can publish on every rerun."""
    if not isinstance(page, str) or len(page) > MAX_PAGE_CHARS:
        raise RoomError(f"a page name has at most {MAX_PAGE_CHARS} characters", "view_too_large")
    if not isinstance(query, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in query.items()
    ):
        raise TypeError("query must map text to text")
    if run_id is not None and (not isinstance(run_id, str) or len(run_id) > MAX_PAGE_CHARS):
        raise RoomError(f"a run id has at most {MAX_PAGE_CHARS} characters", "view_too_large")
    query_json = json.dumps(query, sort_keys=True, ensure_ascii=False)
    if len(query_json) > MAX_VIEW_CHARS:
        raise RoomError(f"the view's query is over {MAX_VIEW_CHARS} characters", "view_too_large")
    with _transaction() as con:
        row = _as_teacher(con, code, teacher_token, lock=True)
        if _as_room(row).closed:
            raise RoomError(f"class room {row.code} is closed", "room_closed")
        same = (row.view_page, row.view_query, row.view_run_id) == (page, query_json, run_id)
        if row.view_version and same:
            return row.view_version
        version = row.view_version + 1
        con.execute(
            sa.update(store.rooms)
            .where(store.rooms.c.code == row.code)
            .values(
                view_version=version,
                view_page=page,
                view_query=query_json,
                view_run_id=run_id,
                view_updated=_now(),
            )
        )
        return version


def publish_run(code: str, teacher_token: str, run_id: str, record: bytes) -> None:
    """The teacher's live run as her server sees it now, for followers on other servers."""
    if not isinstance(record, bytes) or len(record) > MAX_RUN_RECORD_BYTES:
        raise RoomError("a run record is bytes of at most 1 MB", "view_too_large")
    if not isinstance(run_id, str) or not 0 < len(run_id) <= MAX_PAGE_CHARS:
        raise RoomError(f"a run id has at most {MAX_PAGE_CHARS} characters", "view_too_large")
    with _transaction() as con:
        row = _as_teacher(con, code, teacher_token)
        if _as_room(row).closed:
            raise RoomError(f"class room {row.code} is closed", "room_closed")
        store.upsert(
            con,
            store.room_runs,
            {"room": row.code, "run_id": run_id, "record": record, "updated": _now()},
            ["room"],
        )


def room_run(code: str, run_id: str) -> bytes | None:
    """The record of the teacher's run `run_id`, if her server has shared one."""
    with _transaction(write=False) as con:
        row = _find_open(con, code)
        t = store.room_runs.c
        query = sa.select(t.record).where(t.room == row.code, t.run_id == run_id)
        return con.execute(query).scalar_one_or_none()


def current_view(code: str) -> View | None:
    """The teacher's current view of an open room; None before the teacher published one."""
    with _transaction(write=False) as con:
        row = _find_open(con, code)
    if not row.view_version:
        return None
    query = json.loads(row.view_query)
    return View(row.view_version, row.view_page, query, row.view_run_id, row.view_updated)


def set_locked(code: str, teacher_token: str, locked: bool) -> None:
    """Ask followers to stay on the shared view (True) or let them browse (False)."""
    with _transaction() as con:
        row = _as_teacher(con, code, teacher_token, lock=True)
        if _as_room(row).closed:
            raise RoomError(f"class room {row.code} is closed", "room_closed")
        con.execute(
            sa.update(store.rooms).where(store.rooms.c.code == row.code).values(locked=bool(locked))
        )


def _check_follower(follower_id: object, name: object) -> None:
    if not isinstance(follower_id, str) or not _FOLLOWER_ID.fullmatch(follower_id):
        raise RoomError("a follower id is 1-64 letters, digits or _.:-", "follower_invalid")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
        raise RoomError(
            f"a name has at most {MAX_NAME_CHARS} characters", "name_too_long", limit=MAX_NAME_CHARS
        )


def heartbeat(code: str, follower_id: str, name: str = "", following: bool = True) -> None:
    """Say that follower `follower_id` (a page session's own id) is in the room, under `name`
    (stored as given), following the teacher's view or not."""
    _check_follower(follower_id, name)
    with _transaction() as con:
        row = _find_open(con, code, lock=True)
        f = store.followers.c
        known = con.execute(
            sa.select(f.follower_id).where(f.room == row.code, f.follower_id == follower_id)
        ).first()
        if known is None:
            n = con.execute(sa.select(sa.func.count()).where(f.room == row.code)).scalar_one()
            if n >= MAX_FOLLOWERS_PER_ROOM:
                raise RoomError(f"room {row.code} has {n} followers", "room_full", n=n)
        store.upsert(
            con,
            store.followers,
            {
                "room": row.code,
                "follower_id": follower_id,
                "name": name,
                "following": bool(following),
                "last_seen": _now(),
            },
            keys=("room", "follower_id"),
        )


class _Pulses:
    """Each room's view version as this process last read it, for at most PULSE_CACHE_S, and
    when each follower's presence was last written: so N followers polling one room cost one
    store read per PULSE_CACHE_S and one write per follower per PRESENCE_S. A cache of the
    store, not state of its own: losing it costs one read."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[float, int]] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self.max_keys = max_keys

    def version(self, code: str, now: float) -> int | None:
        with self._lock:
            hit = self._versions.get(code)
        return hit[1] if hit is not None and now - hit[0] < PULSE_CACHE_S else None

    def keep(self, code: str, version: int, now: float) -> None:
        with self._lock:
            if len(self._versions) >= self.max_keys:
                self._versions.clear()
            self._versions[code] = (now, version)

    def due(self, code: str, follower_id: str, now: float) -> bool:
        """Whether this follower's presence is due to be written (and mark it written)."""
        with self._lock:
            if now - self._seen.get((code, follower_id), -math.inf) < PRESENCE_S:
                return False
            if len(self._seen) >= self.max_keys:
                self._seen.clear()
            self._seen[(code, follower_id)] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()
            self._seen.clear()


_pulses = _Pulses()


def pulse(code: str, follower_id: str) -> int:
    """The version of the teacher's view (0 before her first), for a follower's page to poll
    several times a second without rerunning the app; it reruns only when the version moves. Also
    tells the room the follower is still there (her name and branch come from the page's own
    :func:`heartbeat`).

    Raises:
        RoomError: unknown (counted against guessing), closed, or the store is unreachable.
    """
    now = time.monotonic()
    normal = normal_code(code) or ""
    version = _pulses.version(normal, now)
    if version is None:
        with _transaction(write=False) as con:
            version = _find_open(con, code).view_version
        _pulses.keep(normal, version, now)
    if _FOLLOWER_ID.fullmatch(str(follower_id)) and _pulses.due(normal, follower_id, now):
        f = store.followers.c
        with _transaction() as con:
            con.execute(
                sa.update(store.followers)
                .where(f.room == normal, f.follower_id == follower_id)
                .values(last_seen=_now())
            )
    return version


def followers(code: str, within_s: float = 30.0) -> list[Follower]:
    """Followers of room `code` (open or closed) seen in the last `within_s` seconds, by name."""
    with _transaction(write=False) as con:
        row = _find(con, code)
        f = store.followers.c
        rows = con.execute(
            sa.select(f.follower_id, f.name, f.following, f.last_seen)
            .where(f.room == row.code, f.last_seen >= _now() - timedelta(seconds=within_s))
            .order_by(f.name, f.follower_id)
        )
        return [Follower(i, n, bool(following), seen) for i, n, following, seen in rows]


def send(code: str, follower_id: str, name: str, png: bytes, link: str) -> int:
    """Send a picture to the room's gallery; return its id.

    At most one send every SEND_INTERVAL_S seconds and MAX_SENDS_PER_FOLLOWER per follower, a
    PNG (checked by its first bytes) of at most MAX_PNG_BYTES, a name of at most MAX_NAME_CHARS.
    """
    _check_follower(follower_id, name)
    if not isinstance(png, bytes | bytearray | memoryview):
        raise TypeError("png must be bytes")
    png = bytes(png)
    if len(png) > MAX_PNG_BYTES:
        raise RoomError(
            f"the picture is {len(png)} bytes; at most {MAX_PNG_BYTES} are sent",
            "too_large",
            megabytes=len(png) / 2**20,
            limit_megabytes=MAX_PNG_BYTES / 2**20,
        )
    if not png.startswith(PNG_MAGIC):
        raise RoomError("only PNG pictures are sent to the gallery", "not_png")
    if not isinstance(link, str) or len(link) > MAX_LINK_CHARS:
        raise RoomError(f"a link has at most {MAX_LINK_CHARS} characters", "link_too_long")
    with _transaction() as con:
        row = _find_open(con, code, lock=True)  # PostgreSQL: sends to one room take turns
        g = store.gallery.c
        mine, last = con.execute(
            sa.select(sa.func.count(), sa.func.max(g.time)).where(
                g.room == row.code, g.follower_id == follower_id
            )
        ).one()
        now = _now()
        if mine >= MAX_SENDS_PER_FOLLOWER:
            raise RoomError(f"{mine} pictures sent already", "send_limit", n=mine)
        if last is not None:
            wait = SEND_INTERVAL_S - (now - last).total_seconds()
            if wait > 0:
                raise RoomError(
                    f"wait {wait:.1f} s before sending again",
                    "send_too_soon",
                    seconds=math.ceil(wait),
                )
        total = con.execute(sa.select(sa.func.count()).where(g.room == row.code)).scalar_one()
        if total >= MAX_GALLERY_PER_ROOM:
            raise RoomError(f"the gallery holds {total} pictures", "gallery_full", n=total)
        values = {
            "room": row.code,
            "follower_id": follower_id,
            "name": name,
            "png": png,
            "link": link,
            "time": now,
        }
        return int(con.execute(sa.insert(store.gallery).values(values)).inserted_primary_key[0])


def gallery(code: str, teacher_token: str, after_id: int = 0, limit: int = 100) -> list[Sent]:
    """The pictures sent to the room after `after_id`, oldest first (at most `limit`, capped at
    MAX_GALLERY_PAGE); for the teacher only, also once the room has closed."""
    limit = max(1, min(int(limit), MAX_GALLERY_PAGE))
    with _transaction(write=False) as con:
        row = _as_teacher(con, code, teacher_token)
        g = store.gallery.c
        rows = con.execute(
            sa.select(g.id, g.room, g.name, g.png, g.link, g.time)
            .where(g.room == row.code, g.id > int(after_id))
            .order_by(g.id)
            .limit(limit)
        )
        return [Sent(i, room, n, bytes(png), link, t) for i, room, n, png, link, t in rows]


# -- the class's own training set ---------------------------------------------------------------

MAX_DRAWINGS_PER_PERSON = 200  # 20 a class at 10 classes: more than a lesson's worth of drawing
MAX_DRAWINGS_PER_ROOM = MAX_FILES  # as many as a folder of one's own may hold
MAX_DRAWING_BYTES = 4096  # a 28x28 grayscale PNG is 100-700 bytes


@dataclass(frozen=True)
class Drawing:
    class_name: str
    png: bytes  # 28x28 grayscale, ink bright on dark, as the set holds it
    follower_id: str


def _check_drawings(drawings: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    if len(drawings) > MAX_DRAWINGS_PER_PERSON:
        raise RoomError(
            f"{len(drawings)} drawings; one person sends at most {MAX_DRAWINGS_PER_PERSON}",
            "drawings_too_many",
            n=len(drawings),
            limit=MAX_DRAWINGS_PER_PERSON,
        )
    checked = []
    for name, png in drawings:
        if not is_class_name(name):
            raise RoomError(f"a class name is 1-{MAX_CLASS_NAME_CHARS} printable characters",
                            "class_name_invalid", limit=MAX_CLASS_NAME_CHARS)  # fmt: skip
        png = bytes(png) if isinstance(png, bytes | bytearray | memoryview) else b""
        if not png.startswith(PNG_MAGIC) or len(png) > MAX_DRAWING_BYTES:
            raise RoomError("a drawing is a small PNG", "drawing_not_png")
        checked.append((name, png))
    return checked


def send_drawings(code: str, follower_id: str, drawings: Sequence[tuple[str, bytes]]) -> int:
    """Put one person's drawings ((class name, PNG) pairs) into the room's training set, in
    place of what they sent before, so sending again sends their set as it is now and a second
    press of the button changes nothing; return how many drawings the room's set holds."""
    _check_follower(follower_id, "")
    checked = _check_drawings(drawings)
    with _transaction() as con:
        row = _find_open(con, code, lock=True)  # PostgreSQL: sends to one room take turns
        d = store.room_drawings.c
        con.execute(
            sa.delete(store.room_drawings).where(d.room == row.code, d.follower_id == follower_id)
        )
        others = con.execute(sa.select(sa.func.count()).where(d.room == row.code)).scalar_one()
        if others + len(checked) > MAX_DRAWINGS_PER_ROOM:
            raise RoomError(
                f"the class's set holds {others} drawings; at most {MAX_DRAWINGS_PER_ROOM}",
                "class_set_full",
                n=others,
                limit=MAX_DRAWINGS_PER_ROOM,
            )
        now = _now()
        if checked:
            con.execute(
                sa.insert(store.room_drawings),
                [
                    {
                        "room": row.code,
                        "follower_id": follower_id,
                        "class_name": name,
                        "png": png,
                        "time": now,
                    }  # fmt: skip
                    for name, png in checked
                ],
            )
        return others + len(checked)


def class_drawings(code: str, teacher_token: str) -> list[Drawing]:
    """The room's training set as its people sent it, oldest first; for the teacher only."""
    with _transaction(write=False) as con:
        row = _as_teacher(con, code, teacher_token)
        d = store.room_drawings.c
        rows = con.execute(
            sa.select(d.class_name, d.png, d.follower_id).where(d.room == row.code).order_by(d.id)
        )
        return [Drawing(name, bytes(png), who) for name, png, who in rows]
