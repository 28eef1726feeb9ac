"""Stripe billing: the gateway to Stripe's API and the pure rules that turn webhook events into state."""
