import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface WorkflowsPageView {
  /** The execution's row on the Workflows page, cells separated by tabs. */
  row: string;
  /** The execution's own page: header, timeline (activity summaries) and the User Metadata tab (summary, details, current details). */
  detail: string;
}

/**
 * Opens the Temporal UI's Workflows page in headless Chromium (Debian's
 * `chromium`, driven by playwright-core: nothing downloaded) with the given
 * search attributes configured as columns, the way a person adds them with
 * "Configure Columns" (the UI keeps that choice in localStorage), filtered to
 * one workflow id; then the execution's page with its User Metadata tab open,
 * read until every `expected` text shows (or 20 s passed).
 */
export async function viewWorkflow(uiUrl: string, workflowId: string, columns: string[], expected: string[] = [], namespace = 'default'): Promise<WorkflowsPageView> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const profile = mkdtempSync(join(tmpdir(), 'lifecycle-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const base = `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}`;
    await page.goto(`${base}/workflows`);
    const layout = ['Status', 'Workflow ID', 'Type', ...columns, 'Start', 'End'].map((label) => ({ label }));
    // A string script: this project compiles without the DOM library.
    await page.evaluate(`localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(JSON.stringify({ [namespace]: layout }))})`);
    await page.goto(`${base}/workflows?query=${encodeURIComponent(`WorkflowId = '${workflowId}'`)}`);
    const row = page.locator('tr', { hasText: workflowId }).first();
    await row.waitFor({ timeout: 30_000 });
    const rowText = await row.innerText();
    await page.goto(`${base}/workflows/${encodeURIComponent(workflowId)}`);
    const read = async () => {
      const parts = [await page.locator('body').innerText()];
      for (const frame of page.frames()) parts.push(await frame.locator('body').innerText().catch(() => ''));
      return parts.join('\n');
    };
    const until = async (done: (text: string) => boolean) => {
      let text = '';
      for (const end = Date.now() + 20_000; Date.now() < end; await page.waitForTimeout(500)) if (done((text = await read()))) break;
      return text;
    };
    // The timeline ("<activity type> • <summary>") shows first; the User Metadata tab (summary, details,
    // current details: Markdown, each in a sandboxed iframe) replaces part of the page when opened.
    const timeline = await until((text) => text.includes(' • '));
    const tab = page.getByText('User Metadata', { exact: true }).first();
    await tab.click();
    let detail = timeline;
    await until((text) => expected.every((e) => (detail = `${timeline}\n${text}`).includes(e)));
    return { row: rowText, detail };
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
