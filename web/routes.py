"""The URL map and what every page's template gets."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web import static_files
from web.api import setup_api
from web.views import account, audit, case_forms, cases, citizen, health, staff, supervision
from web.views import staff_admin as staff_admin_views
from web.views import stats as stats_views
from web.views.schedule_routes import add_routes as add_schedule_routes


def setup_routes(app: web.Application, static_dir: Path) -> None:
    router = app.router
    router.add_get("/", citizen.index, name="index")
    router.add_get("/healthz", health.healthz, name="healthz")
    # Citizens
    router.add_get("/join/{token}", citizen.join, name="join")
    router.add_get("/call", citizen.call, name="citizen_call")
    # Staff
    router.add_get("/login", staff.login_form, name="login")
    router.add_post("/login", staff.login_submit, name="login_submit")
    router.add_post("/logout", staff.logout, name="logout")
    # The second factor after a correct password (server.mfa), one's own account, the coordinator's staff page
    router.add_get("/login/code", account.code_form, name="mfa_code")
    router.add_post("/login/code", account.code_submit, name="mfa_code_submit")
    router.add_get("/login/enrol", account.enrol_form, name="mfa_enrol")
    router.add_post("/login/enrol", account.enrol_submit, name="mfa_enrol_submit")
    router.add_get("/account", account.account_page, name="account")
    router.add_post("/account/password", account.password_submit, name="account_password")
    router.add_get("/staff", staff_admin_views.staff_page, name="staff_admin")
    router.add_post("/staff/{id}/role", staff_admin_views.role_submit, name="staff_role")
    router.add_post("/staff/{id}/active", staff_admin_views.active_submit, name="staff_active")
    router.add_post("/staff/{id}/mfa-reset", staff_admin_views.mfa_reset_submit, name="staff_mfa_reset")
    router.add_get("/console", staff.console, name="console")
    router.add_post("/console/consultations", staff.create, name="consultation_create")
    router.add_get("/console/consultations/{id}", staff.room, name="consultation")
    router.add_post("/console/consultations/{id}/email", staff.email_link, name="consultation_email")
    router.add_post("/console/consultations/{id}/link", staff.new_link, name="consultation_link")
    # Scheduling: coordinator settings, availability, outbox, agenda, switchboard, public booking
    add_schedule_routes(router)
    # Group supervision rooms (docs/supervision.md): the list and form, the room, its register; a series' room
    router.add_get("/supervision", supervision.rooms_page, name="supervision")
    router.add_post("/supervision", supervision.room_create, name="supervision_create")
    router.add_get("/supervision/{id}", supervision.room, name="supervision_room")
    router.add_get("/supervision/{id}/register", supervision.room_register, name="supervision_register")
    router.add_post("/console/meetings/{id}/room", supervision.series_room_open, name="meeting_room")
    # The coordinator's statistics (docs/cases.md) and their CSV export
    router.add_get("/stats", stats_views.stats_page, name="stats")
    router.add_get("/stats.csv", stats_views.stats_csv, name="stats_csv")
    # The audit log and a citizen's rights (docs/cases.md), for the coordinator
    router.add_get("/audit", audit.audit_log, name="audit")
    router.add_get("/audit/citizen", audit.citizen_form, name="audit_citizen")
    router.add_post("/audit/citizen", audit.citizen_accesses, name="audit_citizen_accesses")
    router.add_post("/audit/citizen/export", audit.citizen_export, name="audit_export")
    router.add_post("/audit/citizen/anonymise", audit.citizen_anonymise, name="audit_anonymise")
    # Case work (docs/cases.md): from a consultation to its case, the case page and its forms, the team review,
    # the directory of local services (the fixed paths before /cases/{id})
    router.add_get("/console/consultations/{id}/case", cases.from_consultation, name="consultation_case")
    router.add_get("/cases/review", case_forms.review_page, name="case_review")
    router.add_get("/cases/directory", case_forms.directory_page, name="case_directory")
    router.add_post("/cases/directory", case_forms.directory_add, name="case_directory_add")
    router.add_post("/cases/directory/{id}", case_forms.directory_edit, name="case_directory_edit")
    router.add_post("/cases/directory/{id}/active", case_forms.directory_active, name="case_directory_active")
    router.add_get("/cases/{id}", cases.case_page, name="case")
    router.add_post("/cases/{id}/intake", cases.intake_submit, name="case_intake")
    router.add_post("/cases/{id}/risk", cases.risk_submit, name="case_risk")
    router.add_post("/cases/{id}/notes", cases.note_submit, name="case_note")
    router.add_post("/cases/{id}/outcome", cases.outcome_submit, name="case_outcome")
    router.add_post("/cases/{id}/safety", cases.safety_submit, name="case_safety")
    router.add_post("/cases/{id}/share", cases.share_submit, name="case_share")
    router.add_post("/cases/{id}/flag", cases.flag_submit, name="case_flag")
    router.add_post("/cases/{id}/suggestions/merge", cases.merge_submit, name="case_merge")
    router.add_post("/cases/{id}/suggestions/dismiss", cases.dismiss_submit, name="case_dismiss_suggestion")
    router.add_post("/cases/{id}/decision", case_forms.decide_submit, name="case_decide")
    setup_api(app)  # the JSON API under /api/v1
    static_files.setup(app, static_dir)
