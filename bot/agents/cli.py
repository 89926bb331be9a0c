"""``dmdesk users``: manage agent accounts from the shell (the first admin, mostly).

The password comes from ``DMDESK_NEW_PASSWORD`` or standard input (a prompt
without echo on a terminal, else the first line); it is never echoed,
printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from pydantic import ValidationError
from redis import Redis

from bot.agents.accounts import AccountStore
from bot.agents.errors import ConflictError
from bot.agents.models import AccountCreate, AccountPublic, AccountUpdate, Role
from bot.errors import NotFoundError
from bot.keys import Keys

PASSWORD_ENV = "DMDESK_NEW_PASSWORD"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``users add | list | passwd``."""
    users = sub.add_parser("users", help="manage agent accounts")
    verbs = users.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help=f"create an account (password from ${PASSWORD_ENV} or stdin)")
    add.add_argument("--brand", required=True)
    add.add_argument("--name", required=True, help="username")
    add.add_argument("--role", default="agent", choices=[r.value for r in Role])
    add.add_argument("--display-name", default=None)
    add.add_argument("--teams", default="", help="comma-separated")
    lst = verbs.add_parser("list", help="a brand's accounts")
    lst.add_argument("--brand", required=True)
    pw = verbs.add_parser("passwd", help=f"set a new password (from ${PASSWORD_ENV} or stdin); ends sessions")
    pw.add_argument("--brand", required=True)
    pw.add_argument("--name", required=True)


def read_password() -> str:
    """The new password, never echoed."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _fail(exc: ValidationError) -> SystemExit:
    # input=... would repeat the password in the message: only field names and reasons
    reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return SystemExit(f"invalid: {reasons}")


def run(args: argparse.Namespace, redis_url: str) -> int:
    """Execute a ``users`` command."""
    redis = Redis.from_url(redis_url)
    store = AccountStore(redis, Keys(os.environ.get("DMDESK_REDIS_PREFIX", "dmdesk")))
    try:
        if args.verb == "list":
            for account in store.list(args.brand):
                public = AccountPublic.of(account)
                state = "" if public.active else " (inactive)"
                print(f"{public.username}\t{public.role.value}\t{','.join(public.teams)}{state}")
            return 0
        if args.verb == "add":
            try:
                data = AccountCreate(
                    username=args.name,
                    password=read_password(),
                    role=Role(args.role),
                    display_name=args.display_name,
                    teams=[t for t in args.teams.split(",") if t],
                )
            except ValidationError as exc:
                raise _fail(exc) from None
            account = store.create(args.brand, data)
            print(f"created {account.role.value} {account.username} in brand {account.brand}")
            return 0
        try:
            update = AccountUpdate(password=read_password())
        except ValidationError as exc:
            raise _fail(exc) from None
        store.update(args.brand, args.name, update)
        print(f"password changed for {args.name}; sessions ended")
        return 0
    except (ConflictError, NotFoundError) as exc:
        raise SystemExit(str(exc)) from None
    finally:
        redis.close()
