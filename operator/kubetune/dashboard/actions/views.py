"""The action pages: sign in with the bearer token, the training and comparison forms, deploy or withdraw a model
version. Every form has Preview (the YAML it would apply, nothing sent) and Apply (sent through the Kubernetes API,
and the applied YAML shown). A POST needs the token: ``Authorization: Bearer`` from a script, or the signed-in cookie
with the form's CSRF value from a browser.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..context import CLUSTER, CONFIG, TOKENS, render
from . import cluster, manifests
from .tokens import COOKIE

TRAIN_DEFAULTS = {"datasetFormat": "openai", "datasetSource": "configMap", "configMapKey": "dataset.jsonl",
                  "postgresSecretKey": "url", "loraR": "16", "loraAlpha": "32", "epochs": "3"}
COMPARE_DEFAULTS = {"promptsSource": "fromTrainingJob", "samples": "200", "promptsKey": "prompts.jsonl"}


def _off(request: web.Request) -> web.Response | None:
    if not request.app[CONFIG].actions:
        return render(request, "actions_off.html", status=404, title="Actions are off")
    return None


def _authorized(request: web.Request, form: Any) -> bool:
    tokens = request.app.get(TOKENS)
    if tokens is None:
        return False
    if tokens.bearer_ok(request.headers.get("Authorization")):
        return True
    return tokens.cookie_ok(request.cookies.get(COOKIE)) and tokens.csrf_ok(form.get("csrf"))


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


async def actions_page(request: web.Request) -> web.Response:
    return _off(request) or render(request, "actions.html", title="Actions",
                                   next=request.query.get("next", "/actions"), error=None)


async def sign_in(request: web.Request) -> web.StreamResponse:
    if (off := _off(request)) is not None:
        return off
    form = await request.post()
    tokens = request.app[TOKENS]
    target = str(form.get("next") or "/actions")
    if not target.startswith("/") or target.startswith("//"):
        target = "/actions"
    if not tokens.token_ok(str(form.get("token") or "")):
        return render(request, "actions.html", status=401, title="Actions", next=target,
                      error="That is not the dashboard's token.")
    response = web.HTTPSeeOther(target)
    response.set_cookie(COOKIE, tokens.cookie_value, httponly=True, samesite="Strict", path="/",
                        secure=request.secure)
    raise response


async def sign_out(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/")
    response.del_cookie(COOKIE, path="/")
    raise response


async def _form_page(request: web.Request, template: str, defaults: dict[str, str], build: Any) -> web.Response:
    if (off := _off(request)) is not None:
        return off
    if request.method == "GET":
        values = {**defaults, **{k: v for k, v in request.query.items()}}
        return render(request, template, title="Actions", values=values, errors=[], preview=None, applied=None,
                      failure=None)
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not _authorized(request, form):
        return _unauthorized(request)
    try:
        manifest = build(values)
    except manifests.FormError as e:
        return _result(request, template, values, errors=e.errors, status=422)
    yaml = manifests.to_yaml(manifest)
    if values.get("intent") != "apply":
        return _result(request, template, values, preview=yaml)
    client = request.app[CLUSTER].client
    if client is None:
        return _result(request, template, values, preview=yaml, failure="no Kubernetes API configured",
                       status=503)
    try:
        applied = await cluster.create(client, manifest)
    except cluster.ActionFailed as e:
        return _result(request, template, values, preview=yaml, failure=str(e), status=409)
    return _result(request, template, values, applied=applied, status=201)


def _result(request: web.Request, template: str, values: dict[str, str], *, errors: Any = (),
            preview: str | None = None, applied: cluster.Applied | None = None, failure: str | None = None,
            status: int = 200) -> web.Response:
    if _wants_json(request):
        body = {"errors": [list(e) for e in errors], "yaml": applied.yaml if applied else preview,
                "failure": failure, "applied": applied.__dict__ if applied else None}
        return web.json_response(body, status=status)
    return render(request, template, status=status, title="Actions", values=values, errors=list(errors),
                  preview=preview, applied=applied, failure=failure)


def _unauthorized(request: web.Request) -> web.Response:
    if _wants_json(request) or request.headers.get("Authorization"):
        return web.json_response({"failure": "a valid bearer token is required"}, status=401)
    return render(request, "actions.html", status=401, title="Actions", next=request.path,
                  error="Sign in with the dashboard's token first.")


async def train(request: web.Request) -> web.Response:
    return await _form_page(request, "action_train.html", TRAIN_DEFAULTS, manifests.training_job)


async def compare(request: web.Request) -> web.Response:
    return await _form_page(request, "action_compare.html", COMPARE_DEFAULTS, manifests.model_comparison)


async def serving(request: web.Request) -> web.Response:
    """Deploy a model version on a target, or withdraw it: a merge patch of its spec.serving.targets."""
    if (off := _off(request)) is not None:
        return off
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not _authorized(request, form):
        return _unauthorized(request)
    client = request.app[CLUSTER].client
    template = "action_serving.html"
    if client is None:
        return _result(request, template, values, failure="no Kubernetes API configured", status=503)
    try:
        port = int(values.get("port") or 8000)
    except ValueError:
        return _result(request, template, values, errors=[("port", "an integer")], status=422)
    namespace, name = values.get("namespace", ""), values.get("name", "")
    action, deployment = values.get("action", ""), values.get("deployment", "").strip()
    try:
        if values.get("intent") != "apply":
            from ...kube import ApiError

            try:
                model = await client.get(cluster.resource("FineTunedModel"), name, namespace)
            except ApiError as e:
                raise cluster.ActionFailed(f"cannot read FineTunedModel {namespace}/{name}: {e.message}") from e
            change = manifests.serving_targets(model, action, deployment, port)
            return _result(request, template, values, preview=manifests.to_yaml(change.patch))
        applied, _ = await cluster.change_targets(client, namespace, name, action, deployment, port)
    except manifests.FormError as e:
        return _result(request, template, values, errors=e.errors, status=422)
    except cluster.ActionFailed as e:
        return _result(request, template, values, failure=str(e), status=409)
    return _result(request, template, values, applied=applied, status=200)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/actions", actions_page, name="actions")
    router.add_post("/actions/sign-in", sign_in)
    router.add_post("/actions/sign-out", sign_out)
    router.add_route("*", "/actions/train", train, name="action-train")
    router.add_route("*", "/actions/compare", compare, name="action-compare")
    router.add_post("/actions/serving", serving, name="action-serving")
