//! Authentication (bearer tokens from `--tokens FILE`) and authorization (roles viewer <
//! editor < admin) for the HTTP API, as one axum middleware.
//!
//! Token file: one `token,user,role` per line; blank lines and `#` comments ignored. Without a
//! token file (the loopback-only dev default) every request is user `anonymous` with role admin.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read and watch.
    Viewer,
    /// Viewer + create, update, patch, delete, apply.
    Editor,
    /// Editor + cluster membership (and later rollback and CA operations).
    Admin,
}

impl Role {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

/// The authenticated caller of a request (a request extension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// User name; recorded as the actor of every event the request causes.
    pub user: String,
    /// Granted role.
    pub role: Role,
    /// Client address (`ip:port`), recorded as the source of the events it causes.
    pub source: String,
}

/// Who may call istiod.
#[derive(Debug)]
pub enum Authenticator {
    /// Dev mode: everyone is `anonymous`, admin.
    Anonymous,
    /// Static bearer tokens.
    Tokens(HashMap<String, Identity>),
}

/// A token file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// Unreadable.
    #[error("cannot read token file {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A bad line.
    #[error(
        "{path}:{line}: {message} (expected `token,user,role` with role viewer, editor or admin)"
    )]
    Line {
        /// File.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Authenticator {
    /// Loads `token,user,role` lines from `path`.
    pub fn from_file(path: &Path) -> Result<Self, TokenFileError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokenFileError::Read { path: p.clone(), source })?;
        Self::parse(&text, &p)
    }

    fn parse(text: &str, path: &str) -> Result<Self, TokenFileError> {
        let mut map = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err =
                |message: String| TokenFileError::Line { path: path.into(), line: i + 1, message };
            let parts: Vec<&str> = line.split(',').map(str::trim).collect();
            let [token, user, role] = parts.as_slice() else {
                return Err(err(format!("{} fields", parts.len())));
            };
            if token.is_empty() || user.is_empty() {
                return Err(err("empty token or user".into()));
            }
            let role = Role::parse(role).ok_or_else(|| err(format!("unknown role {role:?}")))?;
            if map
                .insert(
                    (*token).to_owned(),
                    Identity { user: (*user).to_owned(), role, source: String::new() },
                )
                .is_some()
            {
                return Err(err("token listed twice".into()));
            }
        }
        if map.is_empty() {
            return Err(TokenFileError::Line {
                path: path.into(),
                line: 0,
                message: "no tokens".into(),
            });
        }
        Ok(Authenticator::Tokens(map))
    }

    pub(crate) fn identify(&self, authorization: Option<&str>) -> Result<Identity, ApiError> {
        match self {
            Authenticator::Anonymous => {
                Ok(Identity { user: "anonymous".into(), role: Role::Admin, source: String::new() })
            }
            Authenticator::Tokens(map) => {
                let token = authorization
                    .ok_or_else(|| {
                        ApiError::Unauthorized(
                            "no credentials: send Authorization: Bearer <token>".into(),
                        )
                    })?
                    .strip_prefix("Bearer ")
                    .ok_or_else(|| {
                        ApiError::Unauthorized(
                            "the Authorization header must be `Bearer <token>`".into(),
                        )
                    })?;
                map.get(token.trim())
                    .cloned()
                    .ok_or_else(|| ApiError::Unauthorized("invalid bearer token".into()))
            }
        }
    }
}

/// The role a request needs, or `None` for the unauthenticated health endpoints.
fn required_role(method: &Method, path: &str) -> Option<Role> {
    if path == "/healthz" || path == "/readyz" {
        return None;
    }
    if (path.starts_with("/v1/cluster/members") && *method != Method::GET)
        || path == "/v1/rollback"
        || path == "/v1/export"
    {
        return Some(Role::Admin);
    }
    if *method == Method::GET || *method == Method::HEAD {
        Some(Role::Viewer)
    } else {
        Some(Role::Editor)
    }
}

/// Middleware: authenticates, authorizes, and stores the [`Identity`] in the request.
pub async fn layer(
    State(auth): State<Arc<Authenticator>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(needed) = required_role(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let authz = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let mut who = match auth.identify(authz) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        who.source = addr.to_string();
    }
    if who.role < needed {
        return ApiError::Forbidden(format!(
            "user {:?} has role {} but {} {} needs {}",
            who.user,
            who.role.name(),
            req.method(),
            req.uri().path(),
            needed.name()
        ))
        .into_response();
    }
    req.extensions_mut().insert(who);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file() {
        let a = Authenticator::parse("# c\nt1,alice,admin\n\nt2, bob ,viewer\n", "f").unwrap();
        let who = a.identify(Some("Bearer t2")).unwrap();
        assert_eq!(who, Identity { user: "bob".into(), role: Role::Viewer, source: String::new() });
        assert!(matches!(a.identify(None), Err(ApiError::Unauthorized(_))));
        assert!(matches!(a.identify(Some("Bearer nope")), Err(ApiError::Unauthorized(_))));
        assert!(matches!(a.identify(Some("Basic x")), Err(ApiError::Unauthorized(_))));
        let e = Authenticator::parse("t,u,root\n", "f").unwrap_err().to_string();
        assert!(e.contains("f:1") && e.contains("root"), "{e}");
        assert!(Authenticator::parse("t,u\n", "f").is_err());
        assert!(Authenticator::parse("# none\n", "f").is_err());
    }

    #[test]
    fn roles_per_route() {
        assert_eq!(required_role(&Method::GET, "/healthz"), None);
        assert_eq!(required_role(&Method::GET, "/apis/x/v1/y"), Some(Role::Viewer));
        assert_eq!(required_role(&Method::POST, "/v1/apply"), Some(Role::Editor));
        assert_eq!(required_role(&Method::DELETE, "/v1/cluster/members/2"), Some(Role::Admin));
    }
}
