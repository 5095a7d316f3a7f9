package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/gatehouse-id/gatehouse/ent"
	"github.com/gatehouse-id/gatehouse/tenants"
)

// The profile step (progressive profile): sign-up asks only for an
// address, and an application that needs the user's name
// (LoginRequest.ProfileFields) gets it asked here, once, after
// authentication and before the organization choice, consent and
// completion (proceed). Whether a user lacks a field is
// tenants.MissingProfile's to say.

// askProfileIfMissing shows the profile step when u lacks a field req's
// application needs and reports whether it answered the request: with
// the form, or for prompt=none with the error the application must hear.
func (w *Web) askProfileIfMissing(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User) bool {
	missing := tenants.MissingProfile(u, req.ProfileFields)
	if len(missing) == 0 {
		return false
	}
	if silent(req) {
		w.failLogin(rw, r, req, "interaction_required", "the application needs the user's profile")
		return true
	}
	w.renderProfile(rw, r, http.StatusOK, w.profileForm(rw, r, req, s, u, missing))
	return true
}

func (w *Web) profileForm(rw http.ResponseWriter, r *http.Request, req *LoginRequest, s *ent.Session, u *ent.User, missing []string) profilePage {
	return profilePage{
		layout:      layout{Brand: w.memberBrand(r.Context(), req, u.ID)},
		AuthRequest: req.ID, CSRF: csrfField(w.csrfToken(rw, r), req.ID), Ticket: ticket(s, req.ID),
		ClientName:    clientName(req),
		AskName:       slices.Contains(missing, tenants.ProfileName),
		AskGivenName:  slices.Contains(missing, tenants.ProfileGivenName),
		AskFamilyName: slices.Contains(missing, tenants.ProfileFamilyName),
		Name:          u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
	}
}

// postProfileStep saves the fields the profile step asked for (only
// those: the form cannot change anything else) and goes on with the
// sign-in.
func (w *Web) postProfileStep(rw http.ResponseWriter, r *http.Request) {
	req, s, u, ok := w.postedStep(rw, r)
	if !ok {
		return
	}
	missing := tenants.MissingProfile(u, req.ProfileFields)
	if len(missing) > 0 {
		var in tenants.ProfileUpdate
		field := func(name string) *string {
			if !slices.Contains(missing, name) {
				return nil
			}
			v := r.PostFormValue(name)
			return &v
		}
		in.Name, in.GivenName, in.FamilyName = field(tenants.ProfileName), field(tenants.ProfileGivenName), field(tenants.ProfileFamilyName)
		updated, err := w.cfg.Tenants.UpdateOwnProfile(withOrigin(r.Context(), r), u.ID, in, missing)
		var bad *tenants.InputError
		switch {
		case errors.As(err, &bad):
			p := w.profileForm(rw, r, req, s, u, missing)
			p.Name, p.GivenName, p.FamilyName = r.PostFormValue("name"), r.PostFormValue("given_name"), r.PostFormValue("family_name")
			p.Error = say("page.error.bad_profile")
			w.renderProfile(rw, r, http.StatusBadRequest, p)
			return
		case err != nil:
			w.fail(rw, r, err)
			return
		}
		u = updated
	}
	w.proceed(rw, r, req, s, u, nil)
}
