/** What became of one element of a Keycloak export that did not carry over as it was. */
export interface ImportNote {
  /** The element, as an administrator finds it in Keycloak: `client gateway`, `role admin`, `client scope email mapper sub`. */
  element: string;
  /** `changed`: imported with a difference to know; `left_out`: not imported. */
  outcome: "changed" | "left_out";
  reason: string;
}

/** Collects the notes of one conversion, in the order the elements were met. */
export class ImportReport {
  readonly notes: ImportNote[] = [];

  /** The element was imported, with a difference the administrator should know. */
  changed(element: string, reason: string): void {
    this.notes.push({ element, outcome: "changed", reason });
  }

  /** The element was not imported. */
  leftOut(element: string, reason: string): void {
    this.notes.push({ element, outcome: "left_out", reason });
  }
}
