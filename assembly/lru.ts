// LRU order as a doubly linked list over slot indices: head is the most recently used, tail the next to evict.
import * as L from "./layout";

export function unlink(s: u32): void {
  const p = L.prevOf(s), n = L.nextOf(s);
  if (p == L.NIL) L.setHead(n); else L.setNext(p, n);
  if (n == L.NIL) L.setTail(p); else L.setPrev(n, p);
}

export function pushFront(s: u32): void {
  const h = L.head;
  L.setPrev(s, L.NIL);
  L.setNext(s, h);
  if (h == L.NIL) L.setTail(s); else L.setPrev(h, s);
  L.setHead(s);
}

@inline export function moveToFront(s: u32): void {
  if (L.head != s) {
    unlink(s);
    pushFront(s);
  }
}
