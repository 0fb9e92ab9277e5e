/* request_form — the form body of an OAuth POST endpoint. */
#ifndef IDPD_HTTP_REQUEST_FORM_H
#define IDPD_HTTP_REQUEST_FORM_H

#include "core/err.h"
#include "http/form.h"
#include "http/request.h"

/* Content-Type must be application/x-www-form-urlencoded (else IDP_ERR_OAUTH_INVALID_REQUEST),
 * the body is parsed in place (form.h rules) and every parameter but `resource` must occur at
 * most once (RFC 6749 §3.1). f borrows rq->body. */
idp_err request_form(const http_request *rq, form *f, idp_error *err);

#endif
