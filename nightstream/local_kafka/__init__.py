"""The project's own single-node Kafka broker (KRaft), run from Maven Central jars.

Everything it needs ships with the package: the jar lock (``jars.lock``), the logging
configuration and this launcher; only Java 11+ must be installed. Jars are cached in the user
cache directory, broker data lives wherever the caller says (the user data directory for
``nightstream run``). ``python -m nightstream.local_kafka`` is the command-line form.
"""
