//! Extracting the session: a genuine, unexpired cookie that was not signed out
//! (the list is in the control database, so signing out holds in every process).

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{TimeZone, Utc};
use futures_util::future::LocalBoxFuture;

use super::session::verify;
use super::{Dashboard, PageError, Session};
use crate::control::sign_outs;

impl FromRequest for Session {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let dashboard = request.app_data::<web::Data<Dashboard>>().cloned();
        let token = dashboard
            .as_ref()
            .and_then(|d| d.app.settings().api.token.clone());
        let session = token.and_then(|token| verify(request, &token));
        let refused = PageError::signed_out(request);
        Box::pin(async move {
            let (Some(session), Some(dashboard)) = (session, dashboard) else {
                return Err(refused);
            };
            let mut conn = dashboard.app.control_pool().acquire().await?;
            if sign_outs::signed_out(&mut conn, &session.hash()).await? {
                return Err(refused);
            }
            Ok(session)
        })
    }
}

/// Ends the session for good, wherever its cookie went.
pub async fn end(dashboard: &Dashboard, session: &Session) -> Result<(), PageError> {
    let expires = Utc
        .timestamp_opt(session.expires, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut conn = dashboard.app.control_pool().acquire().await?;
    sign_outs::record(&mut conn, &session.hash(), expires).await?;
    Ok(())
}
