"""Delivery to many Nightscout sites from one consumer group (see ``delivery_sink``)."""
