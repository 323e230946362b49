// A Cloudflare Worker that seals and verifies audit trails (tests/e2e/seal_e2e.ts):
//   POST /seal    {"privateJwk": "..."}                          → SealedTrail
//   POST /verify  {"publicJwk": "...", "data": "...", "seal"?: "..."} → Verdict
import { sealTrail, verifyTrail } from "./seal_lab.ts";

export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      const body = await request.json() as { privateJwk?: string; publicJwk?: string; data?: string; seal?: string };
      if (path === "/seal") return Response.json(await sealTrail(body.privateJwk!, "workerd"));
      if (path === "/verify") return Response.json(await verifyTrail(body.publicJwk!, body.data!, body.seal));
      return new Response("not found", { status: 404 });
    } catch (error) {
      return new Response(`${(error as Error).stack ?? error}`, { status: 500 });
    }
  },
};
