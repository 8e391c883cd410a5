"""What a LibreLinkUp refusal means for a link, in words the user can act on.

Most messages end with what to run next; ``then_check`` and ``then_list`` say it the same way
everywhere.
"""

from __future__ import annotations

from nightstream.sources.librelinkup.protocol import VERSION_ENVIRONMENT, VERSION_SETTING

_STEP_ACTIONS = {
    "tou": "accept the new terms of use",
    "pp": "accept the new privacy policy",
    "verifyEmail": "verify the account's e-mail address",
}


def then_check(link_id: str, problem: str) -> str:
    return f"{problem}, then run `nightstream check-login {link_id}`"


def then_list(link_id: str, problem: str) -> str:
    return f"{problem}; run `nightstream check-login {link_id}` to list them"


def bad_credentials(link_id: str) -> str:
    why = (
        "LibreLinkUp rejected the e-mail or password (status 2): use the credentials of the "
        "LibreLinkUp app (the follower app), not those of LibreView or the LibreLink / Libre 3 "
        "app; a patient who follows themselves must invite their own LibreLinkUp account."
    )
    return then_check(link_id, f"{why} Fix the password")


def step_required(link_id: str, step_type: str | None) -> str:
    known = step_type in _STEP_ACTIONS
    action = _STEP_ACTIONS.get(step_type or "", "complete a step")
    problem = (
        f"LibreLinkUp wants the user to {action} before it sends data (status 4, step "
        f"{step_type if known else 'unknown'}): open the LibreLinkUp app, sign in with this "
        "account and accept"
    )
    return then_check(link_id, problem)


def version_too_old(minimum: str | None, sent: str) -> str:
    wanted, example = (minimum, minimum) if minimum else ("a newer version", "x.y.z")
    setting = f'{VERSION_SETTING} = "{example}" for this link'
    environment = f"{VERSION_ENVIRONMENT}={example} for a single-link setup"
    return (
        f"LibreLinkUp refuses app version {sent} and asks for at least {wanted} (status 920): "
        f"set {setting} (or {environment}) and restart"
    )


def header_missing(sent: str) -> str:
    return (
        "LibreLinkUp says a required header is missing (RequiredHeaderMissing): the API has "
        f"changed again; check for a nightstream update, or try a newer {VERSION_SETTING} than "
        f"{sent}"
    )


def redirect_not_followed(region: str, fixed_url: str) -> str:
    where = f"this LibreLinkUp account lives in region {region!r}"
    fix = f"set region = {region!r} and remove server_url, or put {{region}} in it"
    return f"{where}, but server_url is fixed to {fixed_url}: {fix}"


def redirect_loop(regions: list[str]) -> str:
    path = " -> ".join(regions)
    return f"LibreLinkUp kept redirecting the login ({path}): set the region for this link"
