#!/usr/bin/env bash
# make run: initialise a data directory on first use (store, master key, first signing keys, a
# demo client whose secret is printed once) and start idpd in the foreground.
set -euo pipefail
data=$1 listen=$2 issuer=$3
bin=build/idpd
if [ ! -f "$data/idpd.db" ]; then
  "$bin" init --data-dir "$data" --issuer "$issuer"
  creds=$("$bin" client create --data-dir "$data" --name demo --grant-types client_credentials \
          --scope "api:read api:write" --audience "https://api.example.com" --json)
  id=$(printf '%s' "$creds" | sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p')
  secret=$(printf '%s' "$creds" | sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p')
  printf '%s\n' "$id" > "$data/demo-client-id"
  cat <<MSG

  A demo client was created. Its secret is shown only this once:
    client_id:     $id
    client_secret: $secret

MSG
else
  id=$(cat "$data/demo-client-id" 2>/dev/null || echo '<client_id>')
  secret='<client_secret>'
  cat <<MSG

  $data already exists: the demo client's secret was shown when it was created. For a new one:
    $bin client rotate-secret $id --data-dir $data
  (or start afresh: stop idpd, rm -rf $data, make run)

MSG
fi
cat <<MSG
  idpd is starting at $issuer  (data: $data, stop with Ctrl-C)

  Try:
    curl -s $issuer/.well-known/openid-configuration
    curl -s -u '$id:$secret' -d grant_type=client_credentials -d 'scope=api:read' $issuer/token
    build/idpd verify --jwks $issuer/jwks.json --issuer $issuer --audience https://api.example.com <access_token>
    curl -s -u '$id:$secret' -d token=<access_token> $issuer/introspect
    curl -s -u '$id:$secret' -d token=<access_token> $issuer/revoke

  Next (README.md): provision users over SCIM (idpd provisioning-key create), sign them in with
  OpenID Connect (idpd client create --grant-types authorization_code ...), and decide who may do
  what with one policy (idpd policy check|apply docs/policy.example.yaml).

MSG
exec "$bin" serve --data-dir "$data" --listen "$listen" --issuer "$issuer"
