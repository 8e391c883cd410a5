"""Tandem Source (t:slim X2, Mobi): client, poll source and simulator.

The client logs in through Tandem's SSO and OIDC (authorization code with PKCE), finds the
account's pumps and hands back pump-log answers untouched; the simulator behaves like Tandem
Source as the vendor reference describes it, for tests and the demo.
"""
