"""What each setting means, for the keys whose model field has no docstring of its own, and what
each section is for. docs/configuration.md is generated from the settings model and these notes
(``python -m nightstream.config_reference``); it refuses a key that has neither."""

from __future__ import annotations

SECTIONS = {
    "": "Top-level keys, before any `[section]` of the file.",
    "kafka": "Where the Kafka cluster is and how nightstream's topics are named and made.",
    "processor": "The processor (`nightstream process`, or `run`): vendor answers to documents.",
    "sink": "The sink (`nightstream sink`, or `run`): documents to the Nightscout sites.",
    "targets": (
        "One table per Nightscout site, `[targets.<name>]`; links name the sites they feed. "
        "With nightscout-connect's variables the one site is `default`."
    ),
    "links": (
        "One `[[links]]` entry per vendor account (per followed patient for LibreLinkUp, per "
        "pump for Tandem). In the environment the whole list is one JSON value, "
        "`NIGHTSTREAM_LINKS`, or nightscout-connect's `CONNECT_*` variables describe one link."
    ),
}
"""By section path; a section not named here is described by its model's docstrings."""

FIELDS = {
    "log_level": "Least severe log level written, in any case.",
    "kafka.bootstrap_servers": "The brokers a client asks first, `host:port` comma-separated.",
    "kafka.topic_prefix": (
        "Starts every topic, group and transactional id name: two deployments with different "
        "prefixes share a cluster without seeing each other."
    ),
    "kafka.partitions": (
        "Partitions of each topic `topics create` makes: the most processor, sink or poller "
        "instances that get a share of the work."
    ),
    "kafka.replication_factor": "Copies of each partition `topics create` asks for.",
    "kafka.schema_registry_url": (
        "A Confluent Schema Registry: records then use its wire format, not Avro's "
        "single-object encoding."
    ),
    "targets.url": "The Nightscout site's address (http or https).",
    "targets.token": (
        "An access token for API v3 (Admin Tools: a subject whose role has `api:*:create`, "
        '`api:*:update` and `api:*:read`); required with `api_version = "v3"`.'
    ),
    "targets.api_version": (
        "`v3` (upserts by identifier, exactly once) or `v1` for sites older than Nightscout 15."
    ),
    "targets.api_secret": 'The site\'s API_SECRET; only for `api_version = "v1"`.',
    "targets.max_concurrency": "Writes to this site in flight at once.",
    "targets.timeout_seconds": "Longest wait for one answer of the site.",
    "links.id": "The link's name in commands, logs and state; unique.",
    "links.vendor": "Whose cloud the link reads.",
    "links.username": "The vendor account's login (for LibreLinkUp, the follower's e-mail).",
    "links.password": "The vendor account's password; never logged.",
    "links.region": (
        "The account's region. Dexcom: `us`, `ous`, `jp` (default `us`); LibreLinkUp: `auto` "
        "(default: follow the login's redirect) or a region; Tandem: `us` (default) or `eu`."
    ),
    "links.server_url": (
        "Another server than the vendor's, e.g. a simulator; LibreLinkUp URLs may hold `{region}`."
    ),
    "links.patient_id": (
        "LibreLinkUp: which followed patient (`nightstream check-login <link>` lists them); "
        "needed when the account follows several."
    ),
    "links.llu_version": "LibreLinkUp: the app version sent, when Abbott raises its minimum.",
    "links.timezone": "Tandem (required): the IANA zone the pump's clock is set in.",
    "links.pump_serial": (
        "Tandem: which pump, when the account has several (default: the last to upload)."
    ),
    "links.client_id": "Tandem: the OIDC client id of the US login, if Tandem changes it.",
    "links.backfill_days": "Tandem: history read by the first poll.",
    "links.targets": "The `[targets.<name>]` sites this link's data goes to.",
    "links.poll_interval_seconds": "Time between two polls of the link.",
}
"""By key path, sections of named entries without the name (``targets.url``)."""

EXAMPLES = {
    "processor.state_dir": 'state_dir = "/var/lib/nightstream/processor" (one per instance)',
    "sink.state_dir": 'state_dir = "/var/lib/nightstream/sink" (one per instance)',
}
"""By key path, for keys without a default whose example config_errors does not give."""

VARIABLES = {
    "CONFIG": "The TOML file, as `--config` names it.",
    "LINK_ID": "The id of the link nightscout-connect's `CONNECT_*` variables describe.",
    "POLLER_INSTANCE": (
        "`poll --instance-id`: a name unique to a poller process and kept across its restarts."
    ),
    "REPLAY_TOKEN": "`replay --token`: the access token of the site replayed into.",
    "LINKS_KEY": (
        "The keys that encrypt the credentials of the links topic, comma-separated, newest "
        "first (`nightstream links new-key` makes one)."
    ),
    "LINKS_KEY_FILE": "A file holding those keys instead, one a line.",
    "LINK_USERNAME": "`links add --username`.",
    "LINK_PASSWORD": "`links add` and `links set-password`: the vendor password, not prompted.",
    "CACHE": (
        "The user cache directory: the local broker's jars and the demo's files "
        "(default `~/.cache/nightstream` on Linux)."
    ),
    "DATA": (
        "The user data directory: the broker `nightstream run` starts when no Kafka is "
        "configured, and the processor's and sink's state beside it (default "
        "`~/.local/share/nightstream` on Linux)."
    ),
    "MAVEN_REPOSITORY": (
        "Where the local broker's jars are fetched from (default: Maven Central), a mirror say."
    ),
    "TEST_KAFKA": "The test suite's broker: `local` or `container` instead of the first found.",
    "TEST_TIME_SCALE": "The test suite: factor of every wall-clock limit (default 2).",
    "UPDATE_GOLDEN": "The test suite: write the golden files anew instead of comparing.",
}
"""``NIGHTSTREAM_<name>`` variables read outside the settings model (env_names.OTHER_VARIABLES)."""

CONNECT_ALSO = {
    "links.vendor": ("CONNECT_SOURCE",),
    "links.poll_interval_seconds": ("CONNECT_LINK_UP_INTERVAL",),
    "targets.url": ("NIGHTSCOUT_URL",),
}
"""nightscout-connect's variables that set a key in their own terms (``CONNECT_SOURCE=linkup``,
minutes), which ``connect_env.connect_variables`` does not list."""
