#include "http/request_form.h"

static const char *const repeatable[] = {"resource", NULL}; /* RFC 8707 §2 */

idp_err request_form(const http_request *rq, form *f, idp_error *err)
{
    if (!form_content_type_ok(rq->content_type))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST,
                        "Content-Type must be application/x-www-form-urlencoded");
    idp_err rc = form_parse(f, rq->body, rq->body_len, err);
    if (rc != IDP_OK) return rc;
    return form_check_unique(f, repeatable, err);
}
