"""Just enough of kustomize to render deploy/k8s without the binary: resources (files and directories),
namespace, labels (metadata only), images, and strategic-merge patches by file (on the object the patch names,
or on every object of a `target`'s kind).

A field this renderer does not implement is an error, not silently ignored: a test that rendered something
other than what `kubectl kustomize` renders would prove nothing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
#: Lists merged element by element on this key, as the strategic merge patch does for these Kubernetes lists.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}
#: Kinds that live in a namespace (all the deploy/k8s kinds are).
NAMESPACED = {
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "ServiceAccount",
    "Ingress",
    "KafkaTopic",
    "KafkaUser",
}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def render(directory: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise KustomizeError(
            f"{directory}: kustomization fields not rendered by tests/deploy/kustomize.py: {sorted(unknown)}"
        )
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        target = directory / entry
        objects += render(target) if target.is_dir() else load_documents(target)
    for patch_entry in kustomization.get("patches", []):
        if not set(patch_entry) <= {"path", "target"} or set(patch_entry.get("target", {"kind": ""})) != {"kind"}:
            raise KustomizeError(
                f"only file patches, by name or by a target's kind, are rendered here, not {patch_entry}"
            )
        for patch in load_documents(directory / patch_entry["path"]):
            kind = patch_entry.get("target", {}).get("kind")
            targets = (
                [o for o in objects if o["kind"] == kind]
                if kind
                else [find(objects, patch["kind"], patch["metadata"]["name"])]
            )
            if not targets:
                raise KustomizeError(f"patch {patch_entry} matches nothing")
            for target in targets:
                objects[objects.index(target)] = merge(target, {**patch, "metadata": target["metadata"]})
    for label_set in kustomization.get("labels", []):
        if label_set.get("includeSelectors", False):
            raise KustomizeError("labels with includeSelectors are not rendered here")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label_set["pairs"])
            template = obj.get("spec", {}).get("template")
            if label_set.get("includeTemplates") and template:
                template["metadata"].setdefault("labels", {}).update(label_set["pairs"])
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] in NAMESPACED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in containers(objects):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KustomizeError(f"patch target {kind}/{name} not among the resources")


def merge(base: Any, patch: Any, key: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        field = MERGE_KEYS[key]
        out = copy.deepcopy(base)
        for item in patch:
            match = next((i for i, b in enumerate(out) if b.get(field) == item.get(field)), None)
            if match is None:
                out.append(copy.deepcopy(item))
            else:
                out[match] = merge(out[match], item)
        return out
    return copy.deepcopy(patch)


def containers(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        out += pod.get("initContainers", []) + pod.get("containers", [])
    return out
