"""The LINE channel: webhook, rendering and delivery through the LINE Messaging API."""
