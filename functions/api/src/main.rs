//! The `api` Lambda function: serves the proteo-api router (submit, poll, results, list) to API Gateway, the caller
//! taken from the claims its JWT authorizer verified.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use lambda_http::request::RequestContext;
use proteo_api::{router, ApiState, Caller};
use proteo_aws::{init_tracing, Clients, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::new(&config).await;
    let state = ApiState::new(Arc::new(clients.object_store(&config)), Arc::new(clients.job_store(&config)));
    lambda_http::run(router(state).layer(middleware::from_fn(caller_from_authorizer))).await
}

/// The caller is the `sub` claim of the token API Gateway's JWT authorizer verified (issuer, audience, expiry,
/// signature) before invoking us: `requestContext.authorizer.jwt.claims.sub`. API Gateway answers 401 itself to a
/// request without a valid token; a request that reaches us without claims (a misconfigured route) gets no caller,
/// so the router answers 401 too.
async fn caller_from_authorizer(mut request: Request, next: Next) -> Response {
    if let Some(caller) = caller_of(request.extensions().get::<RequestContext>()) {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

fn caller_of(context: Option<&RequestContext>) -> Option<Caller> {
    let Some(RequestContext::ApiGatewayV2(context)) = context else { return None };
    let sub = context.authorizer.as_ref()?.jwt.as_ref()?.claims.get("sub")?;
    Some(Caller { owner: sub.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(event: serde_json::Value) -> RequestContext {
        let request: lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_value(event).expect("an HTTP API v2 event");
        RequestContext::ApiGatewayV2(request.request_context)
    }

    #[test]
    fn the_caller_is_the_sub_claim_of_the_jwt_authorizer() {
        let base = serde_json::json!({
            "version": "2.0", "routeKey": "GET /jobs", "rawPath": "/jobs", "rawQueryString": "",
            "headers": {}, "isBase64Encoded": false,
            "requestContext": {"http": {"method": "GET", "path": "/jobs"}, "timeEpoch": 0}
        });
        let mut signed_in = base.clone();
        signed_in["requestContext"]["authorizer"] =
            serde_json::json!({"jwt": {"claims": {"sub": "3f1c9a2e", "iss": "https://idp.example"}, "scopes": null}});
        assert_eq!(caller_of(Some(&context(signed_in))), Some(Caller { owner: "3f1c9a2e".into() }));
        assert_eq!(caller_of(Some(&context(base.clone()))), None, "no authorizer: nobody");
        let mut no_sub = base;
        no_sub["requestContext"]["authorizer"] = serde_json::json!({"jwt": {"claims": {"iss": "x"}}});
        assert_eq!(caller_of(Some(&context(no_sub))), None);
        assert_eq!(caller_of(None), None);
    }
}
