"""Abbott LibreLinkUp (the follower app's API): client, poll source and simulator.

The client hands back graph answers untouched; the simulator behaves like the LibreLinkUp API
as the vendor reference describes it, for tests and the demo.
"""
