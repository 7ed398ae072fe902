import { join } from 'node:path';
import * as ts from 'typescript';
import { describeDoc, type ManifestDoc, WORKSPACE_ROOT } from './k8s-docs';
import { modelFor } from './k8s-models';

/**
 * Unknown fields, the way `kubectl apply` (server-side field validation "Strict") refuses them.
 * The models' JSON schemas accept any extra property, so a typo such as `readinesProbe`, or a field
 * one level off (`allowPrivilegeEscalation` in the pod's securityContext), would pass them and be
 * dropped or refused by the cluster. Here every document is compiled as an object literal typed by
 * its model's interface: TypeScript's excess property check names each unknown field and its path.
 */

const VIRTUAL_FILE = join(WORKSPACE_ROOT, 'tools/deploy-checks/.strict-fields.generated.ts');

export interface StrictFieldProblem {
  readonly doc: string;
  readonly message: string;
}

export function strictFieldProblems(docs: readonly ManifestDoc[]): StrictFieldProblem[] {
  const lines: string[] = [];
  const docAtLine: string[] = [];
  docs.forEach((doc, i) => {
    const model = modelFor(doc.body);
    if (!model) return; // unknown kinds fail the schema check
    lines.push(`import type { ${model.typeName} as M${i} } from '${model.typeModule}';`);
    lines.push(`type T${i} = M${i}${model.typeExtension ? ` & ${model.typeExtension}` : ''};`);
    docAtLine[lines.length] = describeDoc(doc);
    // Pretty-printed so that a diagnostic's line points into the document it belongs to.
    for (const line of `export const d${i}: T${i} = ${JSON.stringify(doc.body, null, 2)};`.split('\n')) {
      docAtLine[lines.length] = describeDoc(doc);
      lines.push(line);
    }
  });
  const source = lines.join('\n');

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) =>
    fileName === VIRTUAL_FILE
      ? ts.createSourceFile(fileName, source, languageVersion, true)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (fileName) => fileName === VIRTUAL_FILE || fileExists(fileName);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => (fileName === VIRTUAL_FILE ? source : readFile(fileName));

  const program = ts.createProgram([VIRTUAL_FILE], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file?.fileName !== VIRTUAL_FILE || diagnostic.start === undefined) {
      return { doc: '(checker setup)', message };
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const text = diagnostic.file.text.split('\n')[line]?.trim() ?? '';
    return { doc: docAtLine[line] ?? '(unknown document)', message: `${message} — at: ${text}` };
  });
}
