// Posts the SAML request form to the identity provider as soon as the
// page is read (HTTP-POST binding); without script, its button does.
document.getElementById("sso-post").submit();
