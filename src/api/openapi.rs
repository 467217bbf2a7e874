//! The OpenAPI 3 document, derived from the handlers and types so it cannot
//! drift; served as JSON (no UI assets to fetch at build time).

use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::access::{Feature, require};
use super::{
    ApiError, AppState, audit_logs, finalize, freeze_view, migration_view, migrations, rebalances,
    shards, websites,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "shardmover", description = "Move a tenant between PostgreSQL shards, safely."),
    paths(migrations::create, migrations::list, migrations::show, migrations::cancel, finalize::finalize, audit_logs::list,
        rebalances::create, rebalances::list, rebalances::show, rebalances::command),
    nest((path = "/api/v1", api = ShardOpsDoc)),
    components(schemas(
        migrations::CreateMigration,
        migration_view::MigrationView,
        freeze_view::FreezeView,
        freeze_view::EndedFreezeView,
        migration_view::MigrationList,
        migration_view::ErrorResponse,
        audit_logs::AuditList,
        rebalances::CreateRebalance,
        rebalances::RebalanceList,
        rebalances::PlanCommand,
        crate::rebalance::PlanView,
        crate::rebalance::PlanSummary,
        crate::rebalance::Preview,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Shard operations, nested into [`ApiDoc`] under `/api/v1` (handler paths are relative).
#[derive(OpenApi)]
#[openapi(
    paths(
        shards::list,
        shards::show,
        shards::update,
        shards::health,
        shards::shard_health,
        shards::statistics,
        shards::distribution,
        shards::recommended,
        websites::show,
        websites::assign,
        websites::bulk_assign
    ),
    components(schemas(
        shards::ShardList,
        shards::HealthList,
        shards::PatchShard,
        websites::AssignShard,
        websites::BulkAssign
    ))
)]
struct ShardOpsDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&request, &state, Feature::Admin)?;
    Ok(HttpResponse::Ok().json(ApiDoc::openapi()))
}
