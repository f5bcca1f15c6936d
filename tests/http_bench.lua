-- wrk script: ask a wish endpoint as the frontend does (POST, JSON body, wish version).
-- AUTH_TOKEN in the environment logs the requests in as that user.
-- METHOD in the environment overrides it (the trivial route is a GET).
wrk.method = os.getenv("METHOD") or "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Wish-Version"] = "2025.v1"
local token = os.getenv("AUTH_TOKEN")
if token then
  wrk.headers["Cookie"] = "auth_token=" .. token
end
-- ACCEPT_ENCODING in the environment asks for compressed answers.
local encoding = os.getenv("ACCEPT_ENCODING")
if encoding then
  wrk.headers["Accept-Encoding"] = encoding
end
