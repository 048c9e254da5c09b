"""Ingest stage: read estate files in every accepted shape and bring them to canonical ARM rows.

`files` reads inputs (files, folders, snapshots) into `RawInputs`; `normalize` turns each input
shape into one canonical ARM record per resource id. Live collection (`auditor.collect`) feeds this
stage; the estate stage (`auditor.estate`) builds its typed model from what it returns.
"""
