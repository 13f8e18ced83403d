"""Serving: the vLLM runtime-LoRA client, what a vLLM Deployment can serve, and the rollout of an adapter across
its pods. No Kubernetes client here: callers pass pods and Deployments in as dicts.
"""
