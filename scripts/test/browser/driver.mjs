// Drives headless Chromium (playwright-core, the system's /usr/bin/chromium) for
// scripts/test/browser-auth.sh. Prints one line per check, "ok|fail NAME (DETAIL)";
// the script counts them. Usage:
//   node driver.mjs API_URL ORIGIN_A ORIGIN_B WRITE_TOKEN
import { chromium } from "playwright-core";

const [api, originA, originB, token] = process.argv.slice(2);
const report = (ok, name, detail) =>
  console.log(`${ok ? "ok" : "fail"}|${name}|${detail}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Everything here is on loopback; no proxy of the machine's may see it.
    "--no-proxy-server",
  ],
});

// The page's own result, once it has written one.
async function pageResult(origin) {
  const page = await browser.newPage();
  const fragment = new URLSearchParams({ api, token }).toString();
  await page.goto(`${origin}/page.html#${fragment}`);
  await page.waitForFunction(() => document.getElementById("result").textContent !== "", null, {
    timeout: 20000,
  });
  const text = await page.locator("#result").textContent();
  await page.close();
  return JSON.parse(text);
}

try {
  const a = await pageResult(originA);
  const shown = (r) => JSON.stringify(r ?? null).slice(0, 200);
  report(a.create?.status === 201, `allowed origin ${originA}: POST with a token`, shown(a.create));
  report(a.list?.status === 200, `allowed origin: GET with a token`, shown(a.list));
  report(a.update?.status === 200, `allowed origin: PATCH (preflighted) with a token`, shown(a.update));
  report(a.remove?.status === 204, `allowed origin: DELETE (preflighted) with a token`, shown(a.remove));
  report(
    a.without_token?.status === 401,
    "allowed origin: without a token the page reads the 401",
    shown(a.without_token),
  );

  const b = await pageResult(originB);
  for (const step of ["create", "list", "without_token"]) {
    report(
      typeof b[step]?.blocked === "string" && b[step].status === undefined,
      `other origin ${originB}: the browser blocks ${step}`,
      shown(b[step]),
    );
  }

  // Swagger UI: "Try it out" on list_tasks answers 401, then 200 once a token is
  // given to "Authorize".
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(`${api}/docs`);
  const op = page.locator("#operations-Tasks-list_tasks");
  await op.locator(".opblock-summary").first().click();
  await op.locator(".try-out__btn").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  const executeAndRead = async (previous) => {
    await op.locator(".execute").click();
    await status.waitFor();
    if (previous !== undefined) {
      await page.waitForFunction(
        ([sel, old]) => {
          const el = document.querySelector(sel);
          return el && el.textContent.trim() !== old;
        },
        ["#operations-Tasks-list_tasks .live-responses-table .response .response-col_status", previous],
      );
    }
    return (await status.textContent()).trim();
  };
  const before = await executeAndRead();
  report(before.startsWith("401"), "Swagger UI: Try it out without Authorize", before);
  await page.locator(".auth-wrapper .authorize").first().click();
  await page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").first().fill(token);
  await page.locator(".modal-ux .auth-btn-wrapper .authorize").first().click();
  await page.locator(".modal-ux .btn-done").first().click();
  const after = await executeAndRead(before);
  report(after.startsWith("200"), "Swagger UI: Try it out after Authorize with a token", after);
  await page.close();
} catch (error) {
  report(false, "the browser run", String(error).split("\n")[0]);
} finally {
  await browser.close();
}
