/*
 * routes.h - the handlers behind the route table (router.c), one per
 * route, grouped by resource in routes_<resource>.c.
 */
#ifndef IMPORTQ_API_ROUTES_H
#define IMPORTQ_API_ROUTES_H

#include "api/api_internal.h"

void route_job_create(struct api_request *req, struct api_response *res);
void route_job_list(struct api_request *req, struct api_response *res);
void route_queue_status(struct api_request *req, struct api_response *res);
void route_job_get(struct api_request *req, struct api_response *res);
void route_job_update(struct api_request *req, struct api_response *res);
void route_job_cancel(struct api_request *req, struct api_response *res);
void route_job_execute(struct api_request *req, struct api_response *res);
void route_job_rejects(struct api_request *req, struct api_response *res);

void route_upload_create(struct api_request *req, struct api_response *res);

void route_orchestration_create(struct api_request *req, struct api_response *res);
void route_orchestration_list(struct api_request *req, struct api_response *res);
void route_orchestration_get(struct api_request *req, struct api_response *res);

void route_schedule_create(struct api_request *req, struct api_response *res);
void route_schedule_list(struct api_request *req, struct api_response *res);
void route_schedule_preview(struct api_request *req, struct api_response *res);
void route_schedule_get(struct api_request *req, struct api_response *res);
void route_schedule_update(struct api_request *req, struct api_response *res);
void route_schedule_delete(struct api_request *req, struct api_response *res);
void route_schedule_pause(struct api_request *req, struct api_response *res);
void route_schedule_resume(struct api_request *req, struct api_response *res);
void route_schedule_run(struct api_request *req, struct api_response *res);
void route_schedule_history(struct api_request *req, struct api_response *res);

void route_resources_list(struct api_request *req, struct api_response *res);
void route_resource_release(struct api_request *req, struct api_response *res);

void route_perf_list(struct api_request *req, struct api_response *res);
void route_perf_recommendations(struct api_request *req, struct api_response *res);
void route_resource_stats(struct api_request *req, struct api_response *res);

void route_audit_list(struct api_request *req, struct api_response *res);
void route_alert_list(struct api_request *req, struct api_response *res);
void route_alert_ack(struct api_request *req, struct api_response *res);
void route_audit_verify(struct api_request *req, struct api_response *res);

void route_events(struct api_request *req, struct api_response *res);

void route_health_series(struct api_request *req, struct api_response *res);

void route_healthz(struct api_request *req, struct api_response *res);
void route_readyz(struct api_request *req, struct api_response *res);
void route_openapi(struct api_request *req, struct api_response *res);

void route_metrics(struct api_request *req, struct api_response *res);

void route_whoami(struct api_request *req, struct api_response *res);

void route_gui_index(struct api_request *req, struct api_response *res);
void route_gui_asset(struct api_request *req, struct api_response *res);

#endif
