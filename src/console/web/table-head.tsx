// A table's header row: one column header per name (falsy names are left out).

export function TableHead({ columns }: { columns: readonly (string | false)[] }) {
  return (
    <thead>
      <tr>
        {columns.map(
          (c) =>
            c && (
              <th key={c} scope="col">
                {c}
              </th>
            ),
        )}
      </tr>
    </thead>
  );
}
