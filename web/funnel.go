package web

import (
	"context"

	"github.com/gatehouse-id/gatehouse/tenants"
)

// funnel counts e for req's organization (the one the application named,
// if any) and application (tenants.RecordFunnel), so product teams can
// watch conversion. A failure is logged: the person's step stands.
func (w *Web) funnel(ctx context.Context, req *LoginRequest, e tenants.FunnelEvent) {
	if e == "" {
		return
	}
	if err := w.cfg.Tenants.RecordFunnel(ctx, e, req.RequestedOrganizationID, string(req.ApplicationID)); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "record funnel event", "event", e, "err", err)
	}
}
