import { Code } from "@connectrpc/connect";
import { NarrowcastError } from "./errors.js";

/**
 * One page of a list RPC (rule PAG-1). An empty `nextPageToken` means this was the last page;
 * a page may hold fewer than `pageSize` items even when more follow, so go by the token.
 */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/** Which page to fetch. */
export interface PageOptions {
  /** Items per page: 0 or absent means the server's default (50; messages 20), capped at its maximum (PAG-2). */
  pageSize?: number;
  /** The previous page's `nextPageToken`; absent for the first page. Tokens are opaque. */
  pageToken?: string;
}

/**
 * Walks every page from `pageToken` on, yielding items as the pages arrive (so a long listing
 * is not held in memory). `fetchPage` gets the token of the page to fetch.
 */
export async function* walkPages<T>(
  fetchPage: (pageToken: string) => Promise<Page<T>>,
  pageToken = "",
): AsyncGenerator<T, void, undefined> {
  for (;;) {
    const page = await fetchPage(pageToken);
    yield* page.items;
    if (page.nextPageToken === "") {
      return;
    }
    // A server that hands back the token it was given would make this loop forever.
    if (page.nextPageToken === pageToken) {
      throw new NarrowcastError({ code: Code.Internal, message: "the server returned the same page token again" });
    }
    pageToken = page.nextPageToken;
  }
}
