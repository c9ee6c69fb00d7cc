"""The core of Ascolto: app factory, settings, database, staff auth, security and consultations."""
