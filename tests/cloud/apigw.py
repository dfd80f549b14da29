"""API Gateway (HTTP API, payload 2.0) in front of the api function, as the harness plays it: the routes and the JWT
authorizer come from the transformed template's OpenAPI body, tokens are checked as API Gateway checks them
(RS256 signature against the identity provider's JWKS, `iss`, `aud`, `exp`, `nbf`), a request without a valid token is
answered 401 by the gateway itself, and an authorized one reaches the function as the v2 event with
`requestContext.authorizer.jwt.claims` (claims as strings, as API Gateway passes them).

`IdentityProvider` is the local stand-in for Cognito or another OpenID Connect provider: an RSA key pair made per
test run, its JWKS, and tokens for named users.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.structures import CaseInsensitiveDict

TOKEN_LIFETIME_SECONDS = 3600  # Cognito's default ID token validity (the template keeps it)


class IdentityProvider:
    def __init__(self, issuer: str, audience: str):
        self.issuer, self.audience = issuer, audience
        self.kid = uuid.uuid4().hex[:16]
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.subjects: dict[str, str] = {}

    def jwks(self) -> dict:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sub(self, user: str) -> str:
        return self.subjects.setdefault(user, str(uuid.uuid4()))

    def token(self, user: str, lifetime: int = TOKEN_LIFETIME_SECONDS, key=None, **overrides) -> str:
        now = int(time.time())
        claims = {"sub": self.sub(user), "iss": self.issuer, "aud": self.audience, "token_use": "id",
                  "email": f"{user}@lab.example", "iat": now, "auth_time": now, "exp": now + lifetime}
        claims.update(overrides)
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": self.kid})

    def forged_token(self, user: str) -> str:
        """A token with every claim right, signed by a key the provider never published."""
        return self.token(user, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern
    authorizer: dict | None  # the jwtConfiguration, or None for an open route


def routes_of(openapi: dict) -> list[Route]:
    schemes = openapi.get("components", {}).get("securitySchemes", {})
    out = []
    for path, methods in openapi["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", r"(?P<proxy>.+)", re.escape(path))
        pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        for method, spec in methods.items():
            authorizer = None
            for requirement in spec.get("security", []):
                for name in requirement:
                    authorizer = schemes[name]["x-amazon-apigateway-authorizer"]
                    assert authorizer["type"] == "jwt", f"{method.upper()} {path}: {authorizer['type']} authorizer"
            out.append(Route(method.upper(), path, re.compile(pattern + "$"), authorizer))
    return out


def _response(status: int, body: bytes, headers: dict | None = None) -> requests.Response:
    r = requests.models.Response()
    r.status_code = status
    r._content = body
    r.headers = CaseInsensitiveDict(headers or {})
    r.encoding = "utf-8"
    return r


def _unauthorized() -> requests.Response:
    return _response(401, b'{"message":"Unauthorized"}',
                     {"content-type": "application/json", "www-authenticate": "Bearer"})


class HttpApi:
    def __init__(self, openapi: dict, idp: IdentityProvider, function_url: str, function: str = "api"):
        self.routes = routes_of(openapi)
        self.idp = idp
        self.invoke_url = f"{function_url.rstrip('/')}/2015-03-31/functions/{function}/invocations"
        self.denied = 0

    def _claims(self, route: Route, headers: CaseInsensitiveDict) -> dict | None:
        config = route.authorizer["jwtConfiguration"]
        raw = headers.get("authorization", "")
        token = raw[7:].strip() if raw.lower().startswith("bearer ") else raw.strip()
        if not token:
            return None
        signing = {k["kid"]: k for k in self.idp.jwks()["keys"]}
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(signing[kid]))
            return jwt.decode(token, key, algorithms=["RS256"], issuer=config["issuer"],
                              audience=config["audience"], options={"require": ["exp", "iss", "sub"]})
        except (jwt.PyJWTError, KeyError, ValueError):
            return None

    def request(self, method: str, path: str, *, headers: dict | None = None, params: dict | None = None,
                json_body=None, data: bytes | None = None, **_ignored) -> requests.Response:
        headers = CaseInsensitiveDict(headers or {})
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("content-type", "application/json")
        parsed = urllib.parse.urlsplit(path)
        raw_path, raw_query = parsed.path, parsed.query
        if params:
            raw_query = "&".join(filter(None, [raw_query, urllib.parse.urlencode(params)]))
        route, path_parameters = None, {}
        for r in self.routes:
            m = r.regex.match(raw_path)
            if m and r.method == method.upper():
                route, path_parameters = r, m.groupdict()
                break
        if route is None:
            return _response(404, b'{"message":"Not Found"}', {"content-type": "application/json"})
        authorizer = None
        if route.authorizer is not None:
            claims = self._claims(route, headers)
            if claims is None:
                self.denied += 1
                return _unauthorized()
            authorizer = {"jwt": {"claims": {k: v if isinstance(v, str) else json.dumps(v) for k, v in
                                             claims.items()}, "scopes": None}}
        now = time.time()
        route_key = f"{route.method} {route.template}"
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": {k.lower(): v for k, v in headers.items()},
            "requestContext": {
                "accountId": "123456789012", "apiId": "e2eapi", "domainName": "e2eapi.execute-api.local",
                "domainPrefix": "e2eapi",
                "http": {"method": route.method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                         "userAgent": headers.get("user-agent", "proteo-e2e")},
                "requestId": uuid.uuid4().hex, "routeKey": route_key, "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": False,
        }
        if authorizer:
            event["requestContext"]["authorizer"] = authorizer
        if raw_query:
            event["queryStringParameters"] = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        if path_parameters:
            event["pathParameters"] = {k: urllib.parse.unquote(v) for k, v in path_parameters.items()}
        if body is not None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        resp = requests.post(self.invoke_url, data=json.dumps(event), timeout=600,
                             headers={"content-type": "application/json"})
        if resp.status_code != 200:
            return _response(500, b'{"message":"Internal Server Error"}', {"content-type": "application/json"})
        out = resp.json()
        payload = out.get("body") or ""
        content = base64.b64decode(payload) if out.get("isBase64Encoded") else payload.encode()
        return _response(int(out.get("statusCode", 200)), content, out.get("headers") or {})
