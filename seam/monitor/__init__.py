"""Monitoring stage: the heartbeat, alerts (taxonomy, bundling, throttle, sinks), health, runbooks, the service files.

alerts.py     the one taxonomy of alert types; AlertSink records, bundles, throttles and fans out
heartbeat.py  the daemon's beat: checks, states, a HEARTBEAT bead each beat, on a jittered schedule
health.py     the latest state for `seam health` and `status`; `seam heartbeat-check` (MISSED)
service.py    systemd user units and launchd agents for running 24/7
runbooks/     RB-001..RB-008, package data
"""
