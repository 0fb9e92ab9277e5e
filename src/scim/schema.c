/* schema — static tables of the SCIM schemas idpd serves, path resolution, and the RFC 7643 §6/§7
 * discovery representations. Characteristics follow RFC 7643 §8.7.1 (User, Group, Enterprise User),
 * with these deviations:
 *   - Group.displayName is required (RFC 7643 §8.7.1 says false; §4.2 says "REQUIRED").
 *   - Group.members gains "display" (readOnly: computed from the member's userName, RFC 7643 §4.2
 *     lists it; clients such as Entra ID send it and it is ignored on input).
 *   - addresses gains "primary" (RFC 7643 §4.1.2 defines it; §8.7.1 omits it: erratum).
 * Attributes not listed take the RFC 7643 §2.2 defaults: required false, caseExact false,
 * mutability readWrite, returned default, uniqueness none. */
#include "scim/schema.h"

#include "core/buf.h"
#include "core/mem.h"

#include <string.h>
#include <strings.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Entry builders; designated initialisers leave every other characteristic at its default. */
#define A_STR(n, d)                                                                                \
    {                                                                                              \
        .name = (n), .type = SA_STRING, .description = (d)                                         \
    }
#define A_STR_CV(n, cv, d)                                                                         \
    {                                                                                              \
        .name = (n), .type = SA_STRING, .canonical_values = (cv), .description = (d)               \
    }
#define A_BOOL(n, d)                                                                               \
    {                                                                                              \
        .name = (n), .type = SA_BOOLEAN, .description = (d)                                        \
    }
#define A_REF(n, rt, d)                                                                            \
    {                                                                                              \
        .name = (n), .type = SA_REFERENCE, .reference_types = (rt), .description = (d)             \
    }
#define A_CPLX(n, s, d)                                                                            \
    {                                                                                              \
        .name = (n), .type = SA_COMPLEX, .subs = (s), .nsubs = N(s), .description = (d)            \
    }
#define A_MULTI(n, s, d)                                                                           \
    {                                                                                              \
        .name = (n), .type = SA_COMPLEX, .multi_valued = true, .subs = (s), .nsubs = N(s),         \
        .description = (d)                                                                         \
    }

static const char *const ref_external[] = {"external", NULL};
static const char *const ref_uri[] = {"uri", NULL};
static const char *const ref_user[] = {"User", NULL};
static const char *const ref_user_group[] = {"User", "Group", NULL};

static const char *const cv_email[] = {"work", "home", "other", NULL};
static const char *const cv_phone[] = {"work", "home", "mobile", "fax", "pager", "other", NULL};
static const char *const cv_ims[] = {"aim",   "gtalk", "icq",   "xmpp", "msn",
                                     "skype", "qq",    "yahoo", NULL};
static const char *const cv_photo[] = {"photo", "thumbnail", NULL};
static const char *const cv_address[] = {"work", "home", "other", NULL};
static const char *const cv_group_type[] = {"direct", "indirect", NULL};
static const char *const cv_member_type[] = {"User", "Group", NULL};

/* ---- common attributes (RFC 7643 §3.1) ---- */

static const scim_attr_def meta_subs[] = {
    {.name = "resourceType",
     .type = SA_STRING,
     .case_exact = true,
     .mutability = SA_READ_ONLY,
     .description = "The name of the resource type of the resource."},
    {.name = "created",
     .type = SA_DATETIME,
     .mutability = SA_READ_ONLY,
     .description = "The DateTime that the resource was added to the service provider."},
    {.name = "lastModified",
     .type = SA_DATETIME,
     .mutability = SA_READ_ONLY,
     .description = "The most recent DateTime that the details of this resource were updated."},
    {.name = "location",
     .type = SA_REFERENCE,
     .case_exact = true,
     .mutability = SA_READ_ONLY,
     .reference_types = ref_uri,
     .description = "The URI of the resource being returned."},
    {.name = "version",
     .type = SA_STRING,
     .case_exact = true,
     .mutability = SA_READ_ONLY,
     .description = "The version (entity tag) of the resource being returned."},
};

static const scim_attr_def common_attrs[] = {
    {.name = "id",
     .type = SA_STRING,
     .case_exact = true,
     .mutability = SA_READ_ONLY,
     .returned = SA_RET_ALWAYS,
     .uniqueness = SA_UNIQ_SERVER,
     .description = "A unique identifier for a SCIM resource as defined by the service provider."},
    {.name = "externalId",
     .type = SA_STRING,
     .case_exact = true,
     .description =
         "A String that is an identifier for the resource as defined by the provisioning client."},
    {.name = "meta",
     .type = SA_COMPLEX,
     .mutability = SA_READ_ONLY,
     .subs = meta_subs,
     .nsubs = N(meta_subs),
     .description = "A complex attribute containing resource metadata."},
};

/* "schemas" (RFC 7643 §3) is not a schema attribute, but it can be filtered on (RFC 7644
 * §3.4.2.2 example): scim_path_resolve knows it, /Schemas does not list it. */
static const scim_attr_def schemas_attr = {.name = "schemas",
                                           .type = SA_REFERENCE,
                                           .multi_valued = true,
                                           .case_exact = true,
                                           .mutability = SA_READ_ONLY,
                                           .returned = SA_RET_ALWAYS,
                                           .reference_types = ref_uri,
                                           .description =
                                               "The schema URIs the resource conforms to."};

/* ---- User (RFC 7643 §4.1, §8.7.1) ---- */

static const scim_attr_def name_subs[] = {
    A_STR("formatted",
          "The full name, including all middle names, titles, and suffixes as appropriate."),
    A_STR("familyName", "The family name of the User, or last name."),
    A_STR("givenName", "The given name of the User, or first name."),
    A_STR("middleName", "The middle name(s) of the User."),
    A_STR("honorificPrefix", "The honorific prefix(es) of the User, or title."),
    A_STR("honorificSuffix", "The honorific suffix(es) of the User, or suffix."),
};

#define MV_DISPLAY A_STR("display", "A human-readable name, primarily used for display purposes.")
#define MV_PRIMARY                                                                                 \
    A_BOOL("primary", "A Boolean value indicating the 'primary' or preferred attribute value.")

static const scim_attr_def email_subs[] = {
    A_STR("value", "Email address for the User."),
    MV_DISPLAY,
    A_STR_CV("type", cv_email,
             "A label indicating the attribute's function, e.g., 'work' or 'home'."),
    MV_PRIMARY,
};
static const scim_attr_def phone_subs[] = {
    A_STR("value", "Phone number of the User."),
    MV_DISPLAY,
    A_STR_CV("type", cv_phone,
             "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'."),
    MV_PRIMARY,
};
static const scim_attr_def ims_subs[] = {
    A_STR("value", "Instant messaging address for the User."),
    MV_DISPLAY,
    A_STR_CV("type", cv_ims,
             "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'."),
    MV_PRIMARY,
};
static const scim_attr_def photo_subs[] = {
    A_REF("value", ref_external, "URL of a photo of the User."),
    MV_DISPLAY,
    A_STR_CV("type", cv_photo,
             "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'."),
    MV_PRIMARY,
};
static const scim_attr_def address_subs[] = {
    A_STR("formatted",
          "The full mailing address, formatted for display or use with a mailing label."),
    A_STR("streetAddress", "The full street address component."),
    A_STR("locality", "The city or locality component."),
    A_STR("region", "The state or region component."),
    A_STR("postalCode", "The zip code or postal code component."),
    A_STR("country", "The country name component."),
    A_STR_CV("type", cv_address,
             "A label indicating the attribute's function, e.g., 'work' or 'home'."),
    MV_PRIMARY,
};
static const scim_attr_def user_group_subs[] = {
    {.name = "value",
     .type = SA_STRING,
     .mutability = SA_READ_ONLY,
     .description = "The identifier of the User's group."},
    {.name = "$ref",
     .type = SA_REFERENCE,
     .mutability = SA_READ_ONLY,
     .reference_types = ref_user_group,
     .description = "The URI of the corresponding 'Group' resource to which the user belongs."},
    {.name = "display",
     .type = SA_STRING,
     .mutability = SA_READ_ONLY,
     .description = "A human-readable name, primarily used for display purposes."},
    {.name = "type",
     .type = SA_STRING,
     .mutability = SA_READ_ONLY,
     .canonical_values = cv_group_type,
     .description = "A label indicating the attribute's function, e.g., 'direct' or 'indirect'."},
};
static const scim_attr_def entitlement_subs[] = {
    A_STR("value", "The value of an entitlement."),
    MV_DISPLAY,
    A_STR("type", "A label indicating the attribute's function."),
    MV_PRIMARY,
};
static const scim_attr_def role_subs[] = {
    A_STR("value", "The value of a role."),
    MV_DISPLAY,
    A_STR("type", "A label indicating the attribute's function."),
    MV_PRIMARY,
};
static const scim_attr_def x509_subs[] = {
    {.name = "value", .type = SA_BINARY, .description = "The value of an X.509 certificate."},
    MV_DISPLAY,
    A_STR("type", "A label indicating the attribute's function."),
    MV_PRIMARY,
};

static const scim_attr_def user_attrs[] = {
    {.name = "userName",
     .type = SA_STRING,
     .required = true,
     .uniqueness = SA_UNIQ_SERVER,
     .description = "Unique identifier for the User, typically used by the user to directly "
                    "authenticate to the service provider. REQUIRED."},
    A_CPLX("name", name_subs, "The components of the user's real name."),
    A_STR("displayName", "The name of the User, suitable for display to end-users."),
    A_STR("nickName", "The casual way to address the user in real life."),
    A_REF("profileUrl", ref_external,
          "A fully qualified URL pointing to a page representing the User's online profile."),
    A_STR("title", "The user's title, such as \"Vice President\"."),
    A_STR("userType", "Used to identify the relationship between the organization and the user."),
    A_STR("preferredLanguage", "Indicates the User's preferred written or spoken language."),
    A_STR("locale",
          "Used to indicate the User's default location for purposes of localizing items."),
    A_STR("timezone", "The User's time zone in the 'Olson' time zone database format."),
    A_BOOL("active", "A Boolean value indicating the User's administrative status."),
    {.name = "password",
     .type = SA_STRING,
     .mutability = SA_WRITE_ONLY,
     .returned = SA_RET_NEVER,
     .description = "The User's cleartext password, used to set or replace it. Never returned."},
    A_MULTI("emails", email_subs, "Email addresses for the user."),
    A_MULTI("phoneNumbers", phone_subs, "Phone numbers for the User."),
    A_MULTI("ims", ims_subs, "Instant messaging addresses for the User."),
    A_MULTI("photos", photo_subs, "URLs of photos of the User."),
    A_MULTI("addresses", address_subs, "A physical mailing address for this User."),
    {.name = "groups",
     .type = SA_COMPLEX,
     .multi_valued = true,
     .mutability = SA_READ_ONLY,
     .subs = user_group_subs,
     .nsubs = N(user_group_subs),
     .description = "A list of groups to which the user belongs, computed from group memberships."},
    A_MULTI("entitlements", entitlement_subs, "A list of entitlements for the User."),
    A_MULTI("roles", role_subs, "A list of roles for the User."),
    A_MULTI("x509Certificates", x509_subs, "A list of certificates issued to the User."),
};

/* ---- Enterprise User (RFC 7643 §4.3) ---- */

static const scim_attr_def manager_subs[] = {
    A_STR("value", "The id of the SCIM resource representing the User's manager."),
    A_REF("$ref", ref_user, "The URI of the SCIM resource representing the User's manager."),
    {.name = "displayName",
     .type = SA_STRING,
     .mutability = SA_READ_ONLY,
     .description = "The displayName of the User's manager."},
};

static const scim_attr_def enterprise_attrs[] = {
    A_STR("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
    A_STR("costCenter", "Identifies the name of a cost center."),
    A_STR("organization", "Identifies the name of an organization."),
    A_STR("division", "Identifies the name of a division."),
    A_STR("department", "Identifies the name of a department."),
    A_CPLX("manager", manager_subs, "The User's manager."),
};

/* ---- Group (RFC 7643 §4.2, §8.7.1) ---- */

static const scim_attr_def member_subs[] = {
    {.name = "value",
     .type = SA_STRING,
     .mutability = SA_IMMUTABLE,
     .description = "Identifier of the member of this Group."},
    {.name = "$ref",
     .type = SA_REFERENCE,
     .mutability = SA_IMMUTABLE,
     .reference_types = ref_user_group,
     .description = "The URI corresponding to a SCIM resource that is a member of this Group."},
    {.name = "display",
     .type = SA_STRING,
     .mutability = SA_READ_ONLY,
     .description = "A human-readable name of the member (its userName)."},
    {.name = "type",
     .type = SA_STRING,
     .mutability = SA_IMMUTABLE,
     .canonical_values = cv_member_type,
     .description = "A label indicating the type of resource, e.g., 'User' or 'Group'."},
};

static const scim_attr_def group_attrs[] = {
    {.name = "displayName",
     .type = SA_STRING,
     .required = true,
     .description = "A human-readable name for the Group. REQUIRED."},
    A_MULTI("members", member_subs, "A list of members of the Group."),
};

const scim_schema scim_schema_common = {
    .urn = "urn:ietf:params:scim:schemas:core:2.0:Common", /* not served; for scim_resolved */
    .name = "Common",
    .description = "Attributes common to all resources (RFC 7643 section 3.1)",
    .attrs = common_attrs,
    .nattrs = N(common_attrs),
};
const scim_schema scim_schema_user = {
    .urn = SCIM_URN_USER,
    .name = "User",
    .description = "User Account",
    .attrs = user_attrs,
    .nattrs = N(user_attrs),
};
const scim_schema scim_schema_enterprise_user = {
    .urn = SCIM_URN_ENTERPRISE,
    .name = "EnterpriseUser",
    .description = "Enterprise User",
    .attrs = enterprise_attrs,
    .nattrs = N(enterprise_attrs),
};
const scim_schema scim_schema_group = {
    .urn = SCIM_URN_GROUP,
    .name = "Group",
    .description = "Group",
    .attrs = group_attrs,
    .nattrs = N(group_attrs),
};

static const scim_schema *const user_extensions[] = {&scim_schema_enterprise_user};

const scim_resource_type scim_rt_user = {
    .name = "User",
    .endpoint = "/Users",
    .description = "User Account",
    .core = &scim_schema_user,
    .extensions = user_extensions,
    .nextensions = N(user_extensions),
};
const scim_resource_type scim_rt_group = {
    .name = "Group",
    .endpoint = "/Groups",
    .description = "Group",
    .core = &scim_schema_group,
    .extensions = NULL,
    .nextensions = 0,
};

/* ---- lookup ---- */

const scim_attr_def *scim_attr_find(const scim_attr_def *attrs, size_t n, const char *name)
{
    if (!attrs || !name) return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(attrs[i].name, name) == 0) return &attrs[i];
    return NULL;
}

/* Top-level attribute by name in common, then core (and "schemas"), then (when ext_too) the
 * extensions of rt. */
static const scim_attr_def *find_top(const scim_resource_type *rt, const char *name, bool ext_too,
                                     const scim_schema **schema)
{
    const scim_attr_def *a = scim_attr_find(common_attrs, N(common_attrs), name);
    *schema = &scim_schema_common;
    if (!a && strcasecmp(name, schemas_attr.name) == 0) a = &schemas_attr;
    if (a) return a;
    *schema = rt->core;
    if ((a = scim_attr_find(rt->core->attrs, rt->core->nattrs, name))) return a;
    for (size_t i = 0; ext_too && i < rt->nextensions; i++) {
        *schema = rt->extensions[i];
        if ((a = scim_attr_find(rt->extensions[i]->attrs, rt->extensions[i]->nattrs, name)))
            return a;
    }
    *schema = NULL;
    return NULL;
}

idp_err scim_path_resolve(const scim_resource_type *rt, const scim_attr_path *p, scim_resolved *out,
                          idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!rt || !p || !p->attr)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "empty attribute path");
    const scim_schema *schema = NULL;
    const scim_attr_def *a = NULL;
    if (!p->urn) {
        a = find_top(rt, p->attr, true, &schema);
    } else if (strcasecmp(p->urn, rt->core->urn) == 0) {
        a = find_top(rt, p->attr, false, &schema);
    } else {
        for (size_t i = 0; i < rt->nextensions; i++) {
            if (strcasecmp(p->urn, rt->extensions[i]->urn) != 0) continue;
            schema = rt->extensions[i];
            a = scim_attr_find(schema->attrs, schema->nattrs, p->attr);
        }
        if (!schema)
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "unknown schema in attribute path");
    }
    if (!a) return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "unknown attribute in path");
    const scim_attr_def *sub = NULL;
    if (p->sub) {
        if (a->type != SA_COMPLEX)
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "attribute '%s' has no sub-attributes",
                            a->name);
        if (!(sub = scim_attr_find(a->subs, a->nsubs, p->sub)))
            return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_PATH, "unknown sub-attribute of '%s'",
                            a->name);
    }
    out->schema = schema;
    out->attr = a;
    out->sub = sub;
    return IDP_OK;
}

/* ---- discovery representations (RFC 7643 §6, §7) ---- */

static const char *type_name(sa_type t)
{
    static const char *const names[] = {"string",   "boolean", "decimal",   "integer",
                                        "dateTime", "binary",  "reference", "complex"};
    return (unsigned)t < N(names) ? names[t] : "string";
}

static const char *mutability_name(sa_mutability m)
{
    static const char *const names[] = {"readWrite", "readOnly", "immutable", "writeOnly"};
    return (unsigned)m < N(names) ? names[m] : "readWrite";
}

static const char *returned_name(sa_returned r)
{
    static const char *const names[] = {"default", "always", "never", "request"};
    return (unsigned)r < N(names) ? names[r] : "default";
}

static const char *uniqueness_name(sa_uniqueness u)
{
    static const char *const names[] = {"none", "server", "global"};
    return (unsigned)u < N(names) ? names[u] : "none";
}

static json_t *str_list(const char *const *v)
{
    json_t *a = json_array();
    for (; v && *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *attr_to_json(const scim_attr_def *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(a->name));
    json_object_set_new(o, "type", json_string(type_name(a->type)));
    json_object_set_new(o, "multiValued", json_boolean(a->multi_valued));
    json_object_set_new(o, "description", json_string(a->description ? a->description : ""));
    json_object_set_new(o, "required", json_boolean(a->required));
    json_object_set_new(o, "caseExact", json_boolean(a->case_exact));
    if (a->canonical_values)
        json_object_set_new(o, "canonicalValues", str_list(a->canonical_values));
    if (a->type == SA_REFERENCE)
        json_object_set_new(o, "referenceTypes", str_list(a->reference_types));
    json_object_set_new(o, "mutability", json_string(mutability_name(a->mutability)));
    json_object_set_new(o, "returned", json_string(returned_name(a->returned)));
    json_object_set_new(o, "uniqueness", json_string(uniqueness_name(a->uniqueness)));
    if (a->type == SA_COMPLEX) {
        json_t *subs = json_array();
        for (size_t i = 0; i < a->nsubs; i++)
            json_array_append_new(subs, attr_to_json(&a->subs[i]));
        json_object_set_new(o, "subAttributes", subs);
    }
    return o;
}

/* {"resourceType": rtype, "location": base + path + "/" + id}. */
static json_t *meta_json(const char *rtype, const char *base_url, const char *path, const char *id)
{
    idp_buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s%s/%s", base_url ? base_url : "", path, id);
    json_t *m = json_object();
    json_object_set_new(m, "resourceType", json_string(rtype));
    json_object_set_new(m, "location", json_string(buf_cstr(&b)));
    buf_free(&b);
    return m;
}

json_t *scim_schema_to_json(const scim_schema *s, const char *base_url)
{
    json_t *o = json_object();
    json_t *schemas = json_array();
    json_array_append_new(schemas, json_string("urn:ietf:params:scim:schemas:core:2.0:Schema"));
    json_object_set_new(o, "schemas", schemas);
    json_object_set_new(o, "id", json_string(s->urn));
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "description", json_string(s->description ? s->description : ""));
    json_t *attrs = json_array();
    for (size_t i = 0; i < s->nattrs; i++)
        json_array_append_new(attrs, attr_to_json(&s->attrs[i]));
    json_object_set_new(o, "attributes", attrs);
    json_object_set_new(o, "meta", meta_json("Schema", base_url, "/Schemas", s->urn));
    return o;
}

json_t *scim_resource_type_to_json(const scim_resource_type *rt, const char *base_url)
{
    json_t *o = json_object();
    json_t *schemas = json_array();
    json_array_append_new(schemas,
                          json_string("urn:ietf:params:scim:schemas:core:2.0:ResourceType"));
    json_object_set_new(o, "schemas", schemas);
    json_object_set_new(o, "id", json_string(rt->name));
    json_object_set_new(o, "name", json_string(rt->name));
    json_object_set_new(o, "endpoint", json_string(rt->endpoint));
    json_object_set_new(o, "description", json_string(rt->description ? rt->description : ""));
    json_object_set_new(o, "schema", json_string(rt->core->urn));
    json_t *ext = json_array();
    for (size_t i = 0; i < rt->nextensions; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "schema", json_string(rt->extensions[i]->urn));
        json_object_set_new(e, "required", json_false());
        json_array_append_new(ext, e);
    }
    json_object_set_new(o, "schemaExtensions", ext);
    json_object_set_new(o, "meta", meta_json("ResourceType", base_url, "/ResourceTypes", rt->name));
    return o;
}
