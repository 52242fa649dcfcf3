/** The one stylesheet of the login, consent and error pages, served from our origin (CSP style-src 'self'). */
export const STYLESHEET = `
:root{--lk-primary:#2c4bdb;--lk-primary-hover:#233db5;--lk-focus:#9fb3ff}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2933;background:#f3f5f8}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px}
main{width:100%;max-width:420px;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.12),0 8px 24px rgba(15,23,42,.06);padding:32px}
.brand{font-size:13px;letter-spacing:.08em;text-transform:uppercase;color:#52606d;margin:0 0 20px}
h1{font-size:22px;line-height:1.3;margin:0 0 8px}
p{line-height:1.5;margin:0 0 16px;color:#3e4c59}
label{display:block;font-size:14px;font-weight:600;margin:16px 0 6px}
input[type=text],input[type=password],input[type=email]{width:100%;font:inherit;padding:10px 12px;border:1px solid #cbd2d9;border-radius:8px}
input:focus,button:focus{outline:3px solid var(--lk-focus);outline-offset:1px}
.actions{display:flex;gap:12px;margin-top:24px}
button{flex:1;font:inherit;font-weight:600;padding:11px 16px;border-radius:8px;border:1px solid transparent;cursor:pointer}
button.primary{background:var(--lk-primary);color:#fff}
button.primary:hover{background:var(--lk-primary-hover)}
button.secondary{background:#fff;color:#1f2933;border-color:#cbd2d9}
button.secondary:hover{background:#f3f5f8}
a.button{flex:1;display:inline-block;text-align:center;text-decoration:none;font-weight:600;padding:11px 16px;border-radius:8px;border:1px solid #cbd2d9;color:#1f2933}
.alert{background:#fdecec;color:#8a1c1c;border:1px solid #f5c2c2;border-radius:8px;padding:10px 12px;font-size:14px;margin:0 0 8px}
label.show-password{display:flex;align-items:center;gap:6px;font-weight:400;font-size:14px;margin:8px 0 0}
label.show-password[hidden]{display:none}
label.show-password input{width:auto;margin:0}
ul.links{padding-left:20px;margin:0 0 16px}
ul.links li{margin:6px 0}
ul.scopes{list-style:none;padding:0;margin:0 0 8px;border:1px solid #e4e7eb;border-radius:8px}
ul.scopes li{padding:10px 12px;border-top:1px solid #e4e7eb}
ul.scopes li:first-child{border-top:0}
ul.scopes .what{display:block;font-weight:600;font-size:15px}
ul.scopes code{font-size:12px;color:#616e7c}
.muted{font-size:13px;color:#616e7c}
.who{font-size:14px;color:#52606d}
.unverified{background:#fff8e1;border:1px solid #f0c36d;border-radius:8px;padding:12px 12px 0;margin:0 0 16px}
.unverified p{color:#5c4400;font-size:14px;margin:0 0 12px}
.unverified .host{font-size:16px;color:#1f2933}
.notice{background:#e8f5ec;color:#1d5b32;border:1px solid #b7e0c3;border-radius:8px;padding:10px 12px;font-size:14px;margin:0 0 8px}
input.code{font-size:24px;letter-spacing:.3em;text-align:center;font-variant-numeric:tabular-nums}
.qr{display:flex;justify-content:center;margin:8px 0 12px}
.qr svg{width:200px;height:200px}
.secret{display:block;font-size:15px;letter-spacing:.08em;word-break:break-all;background:#f3f5f8;border-radius:8px;padding:10px 12px;margin:0 0 8px}
section.factor{border:1px solid #e4e7eb;border-radius:8px;padding:14px 14px 0;margin:0 0 16px}
section.factor form{margin-bottom:14px}
details.recovery{margin-top:20px;font-size:14px}
ul.sessions li,ul.applications li{display:flex;flex-wrap:wrap;align-items:center;gap:4px 12px}
ul.sessions .what,ul.applications .what{flex-basis:100%}
ul.sessions form,ul.applications form{margin:0 0 0 auto}
button.small{flex:none;padding:5px 10px;font-size:13px}
details.recovery summary{cursor:pointer;color:var(--lk-primary)}
ol.recovery-codes{padding-left:28px;margin:0 0 8px;font-size:15px;line-height:1.8}
ol.recovery-codes code{white-space:nowrap;letter-spacing:.03em}
a.button.primary{background:var(--lk-primary);color:#fff;border-color:transparent}
section.factor h2{font-size:16px;margin:0 0 6px}
.status{font-size:13px;font-weight:600;padding:2px 8px;border-radius:99px;background:#e4e7eb;color:#3e4c59;margin-left:6px}
.status.on{background:#d9f2e1;color:#1d5b32}
dl.profile{display:grid;grid-template-columns:auto 1fr;gap:6px 16px;margin:0 0 20px;font-size:14px}
dl.profile dt{color:#616e7c}
dl.profile dd{margin:0}
[hidden]{display:none!important}
.or{display:flex;align-items:center;gap:12px;margin:20px 0 0;color:#616e7c;font-size:13px}
.or::before,.or::after{content:"";flex:1;border-top:1px solid #e4e7eb}
form.passkey .actions{margin-top:16px}
ul.passkeys li{display:flex;flex-wrap:wrap;align-items:center;gap:4px 12px}
ul.passkeys .what{flex-basis:100%}
ul.passkeys form{margin:0 0 0 auto}
.forgot{margin:8px 0 0;font-size:14px;text-align:right}
.forgot a{color:var(--lk-primary)}
.signup{margin:20px 0 0;text-align:center}
.signup a{color:var(--lk-primary)}
.providers{display:flex;flex-direction:column;gap:10px;margin-top:16px}
.brand img{display:block;max-height:40px;max-width:200px}
`;
