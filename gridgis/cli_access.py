"""``gridgis keys`` and ``gridgis users``: who may reach the server, and as what.

The command line itself is the operator at the machine (audited as ``GRIDGIS_ACTOR``);
these commands make the credentials everyone else uses over HTTP.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from gridgis.cli import JsonFlag, _emit_json, _settings, _store, err, handled, out
from gridgis.credentials import hash_password, issue_key, new_user
from gridgis.errors import InputError
from gridgis.terminal import city_time, print_table

keys_app = typer.Typer(help="API keys for systems: create, list, revoke.", no_args_is_help=True)
users_app = typer.Typer(
    help="Accounts for people (the grid office, street offices).", no_args_is_help=True
)

RoleOption = Annotated[
    str, typer.Option(help="viewer (reads), editor (writes inside its scope) or admin.")
]
ScopeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="A subdistrict (9 digits) or community (12 digits) code; repeat for more. "
        "None: the whole city.",
    ),
]


@keys_app.command("create")
@handled
def keys_create(
    role: RoleOption = "viewer",
    scope: ScopeOption = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="Bind the key to a web origin (an embedding key, read-only); repeat for more.",
        ),
    ] = None,
    expires: Annotated[
        datetime | None, typer.Option(help="When the key stops working (UTC unless given).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a key and print it once: the store keeps only its hash."""
    settings = _settings()
    key, record = issue_key(
        _store(settings),
        role,
        actor=settings.actor,
        scopes=scope or (),
        origins=origin or (),
        expires=expires,
        name=name,
    )
    if as_json:
        _emit_json({"key": key, **record.to_dict()})
        return
    out.print(key)
    err.print(f"key {record.id} ({record.role.name}) made; it is shown only now: keep it safe")


@keys_app.command("list")
@handled
def keys_list(as_json: JsonFlag = False) -> None:
    """Every key with its role, scopes and state (never the key)."""
    settings = _settings()
    keys = _store(settings).list_keys()
    if as_json:
        _emit_json([k.to_dict() for k in keys])
        return

    def when(value: datetime | None) -> str:
        return "" if value is None else city_time(value, settings.timezone)

    rows = [
        [
            k.id,
            k.name,
            k.role.name,
            " ".join(k.scopes) or "全市",
            " ".join(k.origins),
            when(k.created),
            when(k.expires),
            "revoked " + when(k.revoked) if k.revoked else "active",
        ]
        for k in keys
    ]
    print_table(
        out,
        ["id", "name", "role", "scopes", "origins", "created", "expires", "state"],
        rows,
        ("id", "name"),
    )


@keys_app.command("revoke")
@handled
def keys_revoke(
    ident: Annotated[str, typer.Argument(help="The key's id (as `keys list` shows).")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key: every server refuses it within a second."""
    settings = _settings()
    key = _store(settings).revoke_key(ident, settings.actor)
    if as_json:
        _emit_json(key.to_dict())
    else:
        out.print(f"key {key.id} revoked")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("no password on standard input", param="password_stdin")
        return line
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


@users_app.command("create")
@handled
def users_create(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: RoleOption = "viewer",
    scope: ScopeOption = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Make an account (asks for the password unless --password-stdin)."""
    settings = _settings()
    user = new_user(
        _store(settings),
        name,
        _password(password_stdin),
        role,
        actor=settings.actor,
        scopes=scope or (),
    )
    if as_json:
        _emit_json(user.to_dict())
    else:
        out.print(f"user {user.name} ({user.role.name}) made")


@users_app.command("list")
@handled
def users_list(as_json: JsonFlag = False) -> None:
    settings = _settings()
    users = _store(settings).list_users()
    if as_json:
        _emit_json([u.to_dict() for u in users])
        return
    rows = [
        [
            u.name,
            u.role.name,
            " ".join(u.scopes) or "全市",
            "disabled" if u.disabled else "active",
            "" if u.created is None else city_time(u.created, settings.timezone),
        ]
        for u in users
    ]
    print_table(out, ["name", "role", "scopes", "state", "created"], rows, ("name",))


@users_app.command("disable")
@handled
def users_disable(
    name: Annotated[str, typer.Argument()],
    enable: Annotated[bool, typer.Option(help="Enable the account again instead.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Disable an account; its sessions end within a second."""
    settings = _settings()
    user = _store(settings).change_user(name, settings.actor, disabled=not enable)
    if as_json:
        _emit_json(user.to_dict())
    else:
        out.print(f"user {user.name} {'disabled' if user.disabled else 'enabled'}")


@users_app.command("passwd")
@handled
def users_passwd(
    name: Annotated[str, typer.Argument()],
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Set a new password; the account's sessions end."""
    settings = _settings()
    store = _store(settings)
    user = store.change_user(
        name, settings.actor, password_hash=hash_password(_password(password_stdin))
    )
    if as_json:
        _emit_json(user.to_dict())
    else:
        out.print(f"password of {user.name} changed")
