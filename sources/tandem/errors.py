"""What a Tandem refusal means for a link, in words the user can act on (one message each)."""

from __future__ import annotations

SOURCE_SITES = {
    "us": "https://source.tandemdiabetes.com",
    "eu": "https://source.eu.tandemdiabetes.com",
}


def _then_check(link_id: str, problem: str) -> str:
    return f"{problem}, then run `nightstream check-login {link_id}`"


def bad_credentials(link_id: str, region: str) -> str:
    other = "eu" if region == "us" else "us"
    problem = (
        f"Tandem Source (region {region}) rejected the e-mail or password "
        "(account/invalid_credentials): use the Tandem Source (t:connect) login; an account of "
        f'the other region is refused the same way, so set region = "{other}" if it lives there'
    )
    return _then_check(link_id, f"{problem}. Fix the password or the region")


def mfa_required(link_id: str, region: str) -> str:
    problem = (
        "Tandem Source asks this account for a second factor (MFA), which an unattended "
        f"connector cannot give: turn MFA off for this account at {SOURCE_SITES[region]} or use "
        "an account without it"
    )
    return _then_check(link_id, problem)


def consent_required(link_id: str, region: str, error: str) -> str:
    problem = (
        f"Tandem Source wants the user to accept something before it shares data ({error}): sign "
        f"in at {SOURCE_SITES[region]} with this account and accept the terms shown"
    )
    return _then_check(link_id, problem)


def no_pumper(link_id: str) -> str:
    problem = (
        "this Tandem account has no pumper id (it is not a pump user's account: a caregiver or "
        "clinic login?): use the login of the person who wears the pump"
    )
    return _then_check(link_id, problem)


def no_pump(link_id: str) -> str:
    problem = (
        "this Tandem account has no pump that ever uploaded: pair the pump with the t:slim / "
        "Mobi mobile app (or upload it once with Tandem Source) and wait for its first upload"
    )
    return _then_check(link_id, problem)


def serial_not_found(link_id: str, serial: str, known: list[str]) -> str:
    listed = ", ".join(known) or "none"
    problem = (
        f"pump_serial = {serial!r} is not a pump of this Tandem account (its pumps: {listed}): "
        "set pump_serial to one of them, or remove it to follow the pump that uploaded last"
    )
    return _then_check(link_id, problem)


def api_gone(what: str) -> str:
    return (
        f"Tandem Source answered {what} with HTTP 404: the API has changed; check for a "
        "nightstream update"
    )


def client_id_refused(link_id: str, client_id: str) -> str:
    problem = (
        f"Tandem Source refused the OIDC client id {client_id} (invalid_client): Tandem changes "
        "it now and then (the US one changed in 2026); set client_id for this link to the one "
        "Tandem Source's web app uses now, or remove it to use nightstream's default"
    )
    return _then_check(link_id, problem)
