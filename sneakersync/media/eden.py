"""HTTP client for a Sahana Eden server: schemas, records and imports (needs ``[server]``).

Eden's URLs are ``<base>/<prefix>/<name>`` for a table ``prefix_name`` (``cr_shelter`` is
``cr/shelter``); components hang below their master (``cr/shelter/shelter_details``).
Basic auth as EdenMobile uses it. Every answer is read with a size bound; failures of
the connection or of Eden itself (5xx) are retried a few times, then reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit, unquote

from sneakersync.errors import MediaError, UsageError, missing_extra

MAX_ANSWER = 256 * 1024 * 1024


class EdenUnreachable(MediaError):
    """Eden could not be reached, or failed, after the retries."""

    layer = "eden"


@dataclass
class Answer:
    status: int
    body: bytes


def table_path(table: str, master: str | None = None) -> str:
    prefix, _, name = table.partition("_")
    if not prefix or not name:
        raise UsageError(f"{table!r} is not an Eden table name (prefix_name)")
    if master is not None:
        mprefix, _, mname = master.partition("_")
        return f"{quote(mprefix)}/{quote(mname)}/{quote(name)}"
    return f"{quote(prefix)}/{quote(name)}"


class EdenClient:
    """One Eden server: ``url`` like ``http://host:8000/eden`` (credentials may be in it)."""

    def __init__(self, url: str, user: str | None = None, password: str | None = None, *,
                 timeout: float = 120.0, retries: int = 3, transport: Any = None) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise missing_extra("server", "httpx") from exc
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"Eden URL {url!r} must be http(s)://HOST[:PORT]/APP",
                             hints=("e.g. http://admin%40example.org:PW@127.0.0.1:8000/eden",))
        if parts.username and user is None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.retries = max(1, retries)
        auth = (user, password or "") if user else None
        self._client = httpx.Client(timeout=timeout, transport=transport, auth=auth)
        self._httpx = httpx

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "EdenClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                body: bytes | None = None) -> Answer:
        url = f"{self.base}/{path}"
        last = ""
        for attempt in range(self.retries):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            try:
                with self._client.stream(
                        method, url, params=params, content=body,
                        headers={"Content-Type": "application/json"} if body else None) as r:
                    got = bytearray()
                    for chunk in r.iter_bytes():
                        got += chunk
                        if len(got) > MAX_ANSWER:
                            raise EdenUnreachable(f"Eden's answer from {url} exceeds "
                                                  f"{MAX_ANSWER} bytes")
                    if r.status_code >= 500:
                        last = f"Eden answered {r.status_code}: {_brief(bytes(got))}"
                        continue
                    return Answer(r.status_code, bytes(got))
            except self._httpx.HTTPError as exc:
                last = f"cannot reach {self.base}: {exc}"
        raise EdenUnreachable(last, hints=("check the URL, the credentials and that Eden runs",
                                           f"tried {self.retries} times"))

    def _ok(self, ans: Answer, what: str) -> bytes:
        if ans.status in (401, 403):
            raise EdenUnreachable(f"Eden refused {what}: HTTP {ans.status} (credentials or "
                                  "permissions)", hints=("give --user and --password, or "
                                                         "USER:PW@ in the URL",))
        if ans.status != 200:
            raise EdenUnreachable(f"Eden answered {ans.status} for {what}: {_brief(ans.body)}")
        return ans.body

    def mform(self, table: str, master: str | None = None) -> Any:
        """The table's schema from Eden's mobile API (``mform.json``)."""
        import json

        body = self._ok(self.request("GET", f"{table_path(table, master)}/mform.json"),
                        f"the schema of {table}")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise EdenUnreachable(f"Eden's schema of {table} is not JSON: {_brief(body)}") from exc

    def export(self, table: str, *, include_deleted: bool = True) -> bytes:
        """Every record of a table as S3XML (the format that can carry deletions)."""
        params = {"include_deleted": "True"} if include_deleted else None
        return self._ok(self.request("GET", f"{table_path(table)}.xml", params=params),
                        f"the records of {table}")

    def export_s3json(self, table: str) -> bytes:
        return self._ok(self.request("GET", f"{table_path(table)}.s3json"),
                        f"the records of {table}")

    def import_s3json(self, table: str, data: bytes) -> Answer:
        """``POST .s3json?ignore_errors=True`` as EdenMobile does; the answer is Eden's."""
        return self.request("POST", f"{table_path(table)}.s3json",
                            params={"ignore_errors": "True"}, body=data)


def _brief(body: bytes) -> str:
    text = body[:300].decode("utf-8", "replace")
    return " ".join(text.split())[:200]


def schema_forms(client: EdenClient, resource: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Eden's ``mform.json`` answers a binding of ``resource`` with this field map needs."""
    forms: dict[str, Any] = {resource: client.mform(resource)}
    main = forms[resource].get("main", {}).get("schema", {}) \
        if isinstance(forms[resource], dict) else {}
    for spec in fields.values():
        to = spec.get("to") if isinstance(spec, dict) else spec
        if not isinstance(to, str) or "." not in to:
            continue
        part = to.rpartition(".")[0]
        if part in main or part in forms:
            continue      # a reference field: its table comes with the main answer
        forms[part] = client.mform(part, master=resource)
    return forms
