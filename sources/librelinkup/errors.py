"""What a LibreLinkUp refusal means for a link, in words the user can act on."""

from __future__ import annotations

from sources.librelinkup.protocol import VERSION_ENVIRONMENT, VERSION_SETTING

_STEP_ACTIONS = {
    "tou": "accept the new terms of use",
    "pp": "accept the new privacy policy",
    "verifyEmail": "verify the account's e-mail address",
}


def check_login_hint(link_id: str) -> str:
    return f"then run `nightstream check-login {link_id}`"


def bad_credentials(link_id: str) -> str:
    return (
        "LibreLinkUp rejected the e-mail or password (status 2): use the credentials of the "
        "LibreLinkUp app (the follower app), not those of LibreView or the LibreLink / Libre 3 "
        "app; a patient who follows themselves must invite their own LibreLinkUp account. Fix "
        f"the password, {check_login_hint(link_id)}"
    )


def step_required(link_id: str, step_type: str | None) -> str:
    action = _STEP_ACTIONS.get(step_type or "", "complete the step it asks for")
    shown = step_type if step_type in _STEP_ACTIONS else "unknown"
    return (
        f"LibreLinkUp wants the user to {action} before it sends data (status 4, step "
        f"{shown}): open the LibreLinkUp app, sign in with this account and accept, "
        f"{check_login_hint(link_id)}"
    )


def version_too_old(minimum: str | None, sent: str) -> str:
    wanted = minimum or "a newer version"
    example = minimum or "x.y.z"
    return (
        f"LibreLinkUp refuses app version {sent} and asks for at least {wanted} (status 920): "
        f'set {VERSION_SETTING} = "{example}" for this link (or {VERSION_ENVIRONMENT}={example} '
        "for a single-link setup) and restart"
    )


def header_missing(sent: str) -> str:
    return (
        "LibreLinkUp says a required header is missing (RequiredHeaderMissing): the API has "
        f"changed again; check for a nightstream update, or try a newer {VERSION_SETTING} than "
        f"{sent}"
    )


def redirect_not_followed(region: str, fixed_url: str) -> str:
    return (
        f"this LibreLinkUp account lives in region {region!r}, but server_url is fixed to "
        f"{fixed_url}: set region = {region!r} and remove server_url, or put {{region}} in it"
    )


def redirect_loop(regions: list[str]) -> str:
    return (
        f"LibreLinkUp kept redirecting the login ({' -> '.join(regions)}): set the region "
        "explicitly for this link"
    )


def patient_not_found(link_id: str, what: str) -> str:
    return (
        f"LibreLinkUp cannot load the configured patient ({what}): patient_id must be the "
        f"patientId of someone this account follows; {check_login_hint(link_id)} to list them"
    )


def no_patients(link_id: str) -> str:
    return (
        "this LibreLinkUp account follows nobody (empty connections list): accept the "
        "patient's invitation in the LibreLinkUp app (patients following themselves invite "
        "their own LibreLinkUp account from the LibreLink / Libre app), "
        f"{check_login_hint(link_id)}"
    )


def several_patients(link_id: str, count: int) -> str:
    return (
        f"this LibreLinkUp account follows {count} patients: set patient_id for this link to "
        f"the one to follow; run `nightstream check-login {link_id}` to list them"
    )


def configured_patient_absent(link_id: str, count: int) -> str:
    return (
        f"patient_id is not among the {count} patients this LibreLinkUp account follows; "
        f"run `nightstream check-login {link_id}` to list them"
    )
