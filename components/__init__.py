"""ComponentResources that turn a LabSpec into GCP and Kubernetes resources.

Components render whatever the spec says.
"""
